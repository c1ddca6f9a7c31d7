import evaluate
from evaluate.utils import launch_gradio_widget

module = evaluate.load("gsi_appearance_consistency")
launch_gradio_widget(module)
