import evaluate
from evaluate.utils import launch_gradio_widget

module = evaluate.load("gsi_instruction_compliance")
launch_gradio_widget(module)
