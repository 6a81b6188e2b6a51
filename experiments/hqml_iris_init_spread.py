"""How far does the HQML Iris teacher's test accuracy move with its initialisation alone?

The study reports one number (0.967) from one seed. This trains the teacher of
``hqml-iris-study.toml`` on the study's own split (seed 0) from ``--inits`` initialisations
and prints each test accuracy and a summary, so the study's number can be placed in the spread.

    python experiments/hqml_iris_init_spread.py --inits 20
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from qiskit_unlearn.config import load_config
from qiskit_unlearn.models import build_model
from qiskit_unlearn.run import model_kwargs, prepare_data
from qiskit_unlearn.train import TrainConfig, evaluate, train

CONFIG = Path(__file__).with_name("hqml-iris-study.toml")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--inits", type=int, default=20, help="initialisations to train")
    parser.add_argument("--split-seed", type=int, default=0, help="seed of the data split")
    args = parser.parse_args()
    cfg = load_config(CONFIG)
    data = prepare_data(cfg, args.split_seed)
    t = cfg["train"]
    accuracies = []
    for init in range(args.inits):
        kwargs = model_kwargs(cfg, data["num_classes"], data["train"][0].shape[1:], init)
        model = build_model(cfg["model"]["kind"], **kwargs)
        train(model, data["train"], data["test"],  # the study selects on test (faithful)
              TrainConfig(epochs=t["epochs"], lr=t["lr"], batch_size=t["batch_size"],
                          patience=t["patience"], seed=init), progress=False)
        accuracies.append(evaluate(model, data["test"])["accuracy"])
        print(f"init {init}: test accuracy {accuracies[-1]:.3f}", flush=True)
    acc = np.array(accuracies)
    print(json.dumps({"inits": len(acc), "mean": round(float(acc.mean()), 4),
                      "min": round(float(acc.min()), 4), "max": round(float(acc.max()), 4),
                      "share_at_least_0.967": round(float((acc >= 0.9666).mean()), 3)}))


if __name__ == "__main__":
    main()
