"""Check HyperField adapter files against the reference safetensors package.

AdapterExportInteropTests runs this script in a virtual environment with
the PyPI packages safetensors and numpy. It has two commands:

  read OUT FILE...   Load each safetensors file with safetensors.numpy and
                     write OUT, a JSON object with each file's metadata and
                     each tensor's dtype, shape and values, plus the
                     adapter_config.json next to it if there is one.
  write SPEC FOLDER  Write a kohya file and a PEFT folder for the slots that
                     the JSON file SPEC lists, in the dtypes other LoRA tools
                     use, and FOLDER/expected.json with the values as stored.

Values go through JSON as Python floats, which hold every float16 and
float32 value exactly.
"""

import json
import os
import sys

import numpy as np
import safetensors
from safetensors import safe_open
from safetensors.numpy import load_file, save_file


def describe(path):
    """Return the metadata and tensors of one file as plain JSON values."""
    with safe_open(path, framework="numpy") as handle:
        metadata = handle.metadata() or {}
    tensors = {}
    for name, array in load_file(path).items():
        tensors[name] = {
            "dtype": str(array.dtype),
            "shape": list(array.shape),
            "values": [float(value) for value in array.reshape(-1)],
        }
    result = {"metadata": metadata, "tensors": tensors}
    config_path = os.path.join(os.path.dirname(path), "adapter_config.json")
    if os.path.basename(path) == "adapter_model.safetensors" and os.path.exists(config_path):
        with open(config_path, encoding="utf-8") as handle:
            result["adapter_config"] = json.load(handle)
    return result


def read_files(out_path, paths):
    report = {
        "versions": {"safetensors": safetensors.__version__, "numpy": np.__version__},
        "files": {path: describe(path) for path in paths},
    }
    with open(out_path, "w", encoding="utf-8") as handle:
        json.dump(report, handle)


def slot_shapes(slot, rank):
    """Return the shapes of A (lora_down) and B (lora_up) of one slot."""
    if slot["kind"] == "conv":
        kernel = slot["kernel"]
        return [rank, slot["in"], kernel, kernel], [slot["out"], rank, 1, 1]
    return [rank, slot["in"]], [slot["out"], rank]


def stored_values(array):
    return [float(value) for value in array.reshape(-1)]


def write_files(spec_path, folder):
    with open(spec_path, encoding="utf-8") as handle:
        spec = json.load(handle)
    rank = spec["rank"]
    generator = np.random.default_rng(spec["seed"])
    expected = {"kohya": {}, "peft": {}}

    # kohya: A in float16, B in float32, and alpha in a different dtype and
    # shape per slot. The last slot has no alpha, so its alpha is the rank.
    alpha_forms = [
        (np.float16, (), 2.0),
        (np.int64, (1,), 8),
        (np.float32, (), 3.5),
        (np.float64, (1,), 6.0),
    ]
    kohya = {}
    for index, slot in enumerate(spec["slots"]):
        a_shape, b_shape = slot_shapes(slot, rank)
        module = "lora_unet_" + slot["name"].replace(".", "_")
        down = (generator.standard_normal(a_shape) * 0.3).astype(np.float16)
        up = (generator.standard_normal(b_shape) * 0.3).astype(np.float32)
        kohya[module + ".lora_down.weight"] = down
        kohya[module + ".lora_up.weight"] = up
        alpha = float(rank)
        if index < len(alpha_forms) and index < len(spec["slots"]) - 1:
            dtype, shape, value = alpha_forms[index]
            kohya[module + ".alpha"] = np.full(shape, value, dtype=dtype)
            alpha = float(value)
        expected["kohya"][slot["name"]] = {"a": stored_values(down), "b": stored_values(up), "alpha": alpha}
    save_file(kohya, os.path.join(folder, "python-kohya.safetensors"), metadata={"ss_network_module": "networks.lora"})

    # PEFT: float32 tensors, lora_alpha 4 with an alpha_pattern for the first slot.
    peft_folder = os.path.join(folder, "python-peft")
    os.makedirs(peft_folder, exist_ok=True)
    peft = {}
    first = spec["slots"][0]["name"]
    for slot in spec["slots"]:
        a_shape, b_shape = slot_shapes(slot, rank)
        key = "base_model.model." + slot["name"]
        down = generator.standard_normal(a_shape).astype(np.float32)
        up = generator.standard_normal(b_shape).astype(np.float32)
        peft[key + ".lora_A.weight"] = down
        peft[key + ".lora_B.weight"] = up
        alpha = 12.0 if slot["name"] == first else 4.0
        expected["peft"][slot["name"]] = {"a": stored_values(down), "b": stored_values(up), "alpha": alpha}
    save_file(peft, os.path.join(peft_folder, "adapter_model.safetensors"), metadata={"format": "pt"})
    config = {
        "peft_type": "LORA",
        "r": rank,
        "lora_alpha": 4,
        "target_modules": [slot["name"] for slot in spec["slots"]],
        "rank_pattern": {},
        "alpha_pattern": {first: 12},
    }
    with open(os.path.join(peft_folder, "adapter_config.json"), "w", encoding="utf-8") as handle:
        json.dump(config, handle, indent=2)

    with open(os.path.join(folder, "expected.json"), "w", encoding="utf-8") as handle:
        json.dump(expected, handle)


def main(arguments):
    if len(arguments) >= 3 and arguments[0] == "read":
        read_files(arguments[1], arguments[2:])
    elif len(arguments) == 3 and arguments[0] == "write":
        write_files(arguments[1], arguments[2])
    else:
        sys.exit("usage: safetensors_interop.py read OUT FILE... | write SPEC FOLDER")


if __name__ == "__main__":
    main(sys.argv[1:])
