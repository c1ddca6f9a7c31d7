import evaluate
from evaluate.utils import launch_gradio_widget

module = evaluate.load("gsi_edit_locality")
launch_gradio_widget(module)
