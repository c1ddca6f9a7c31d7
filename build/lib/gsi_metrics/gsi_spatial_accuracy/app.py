import evaluate
from evaluate.utils import launch_gradio_widget

module = evaluate.load("gsi_spatial_accuracy")
launch_gradio_widget(module)
