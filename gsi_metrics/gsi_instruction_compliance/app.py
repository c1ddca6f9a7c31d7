"""This metric's app, run from its folder: ``GSI_BENCH_DATASET=gsi-bench/syn python app.py``.

``gsi-bench push metrics --namespace NS --dataset OWNER/NAME`` publishes the folder as the Space
``NS/gsi_instruction_compliance``, whose app.py loads the module by that Hub id instead (see gsi_bench.space_app).
"""

from gsi_bench.space_app import demo_from_folder

demo = demo_from_folder(__file__)

if __name__ == "__main__":
    demo.launch()
