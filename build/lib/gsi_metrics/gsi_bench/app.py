import evaluate
from evaluate.utils import launch_gradio_widget

module = evaluate.load("gsi_bench")
launch_gradio_widget(module)
