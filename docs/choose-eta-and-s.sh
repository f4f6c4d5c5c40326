#!/bin/bash
# The runs behind the field's η and S (models/field.md): Adam
# DreamBooth-LoRA against plain SGD at several rates η, 400 steps from the
# same θ_0, on two training-split LFW people and one DogFaceNet dog. Each run
# trains on 6 photographs and is scored on 8 others: CLIP-I-style and
# DINO-style scores of 8 samples (seed 7, guidance 3) after 100, 200, 300 and
# 400 steps. Writes everything under out/eta; prints one line per run.
#
#   bash docs/choose-eta-and-s.sh            # about 40 minutes on 2 cores
set -euo pipefail
H=${H:-.build/release/hyperfield}
DATA=${HYPERFIELD_DATA:-../shared/data}
OUT=out/eta
[ -x "$H" ] || { echo "build first: swift build -c release --product hyperfield" >&2; exit 1; }
[ -d "$DATA/lfw" ] || { echo "shared photographs not found at $DATA; set HYPERFIELD_DATA" >&2; exit 1; }

# Subject folders of links into the shared data: the first 6 files (sorted)
# for training, the next 8 for scoring.
link_subject() {
  local name=$1 source=$2 index=0
  mkdir -p "$OUT/subjects/$name/train" "$OUT/subjects/$name/test"
  for file in $(ls "$source" | sort); do
    if [ $index -lt 6 ]; then ln -sf "$(realpath "$source/$file")" "$OUT/subjects/$name/train/$file"
    elif [ $index -lt 14 ]; then ln -sf "$(realpath "$source/$file")" "$OUT/subjects/$name/test/$file"; fi
    index=$((index + 1))
  done
}
link_subject blair "$DATA/lfw/faces_160/Tony_Blair"
link_subject powell "$DATA/lfw/faces_160/Colin_Powell"
link_subject dog458 "$DATA/dogfacenet/faces_224/458"

score() {  # score TAG CLASS SUBJECT [ADAPTER]
  local tag=$1 class=$2 subject=$3 adapter=${4:-}
  local extra=()
  [ -n "$adapter" ] && extra=(--adapter "$adapter")
  "$H" sample --classes "$class" --count 8 --guidance-scales 3 --seed 7 "${extra[@]}" \
    --output-dir "$OUT/samples/$tag" --grid "$OUT/grids/$tag.png" 2>/dev/null
  "$H" metrics --reference "$OUT/subjects/$subject/test" --generated "$OUT/samples/$tag" --json \
    > "$OUT/scores/$tag.json" 2>/dev/null
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(sys.argv[2].ljust(26), '  '.join('%s %.3f' % (s['name'], s['mean']) for s in d['scores']))" \
    "$OUT/scores/$tag.json" "$tag"
}

mkdir -p "$OUT/scores" "$OUT/grids" "$OUT/adapters"
for spec in "blair face adam:0.001 sgd:10 sgd:30 sgd:100" "powell face adam:0.001 sgd:30" "dog458 dog adam:0.001 sgd:30"; do
  set -- $spec
  subject=$1 class=$2
  shift 2
  score "$subject-none" "$class" "$subject"
  for run in "$@"; do
    method=${run%%:*} rate=${run##*:} tag=$subject-${run%%:*}-${run##*:}
    "$H" dreambooth --images "$OUT/subjects/$subject/train" --class "$class" --method "$method" \
      --learning-rate "$rate" --steps 400 --snapshot-every 100 --output "$OUT/adapters/$tag.safetensors" 2>/dev/null
    for step in 100 200 300; do
      score "$tag-$step" "$class" "$subject" "$OUT/adapters/$tag-step-$step.safetensors"
    done
    score "$tag-400" "$class" "$subject" "$OUT/adapters/$tag.safetensors"
  done
done
