#!/usr/bin/env bash
# Pilot runs that ranked the recipe options for the default model (models/README.md has the table).
# Each: one one-cycle run on a seeded subset of FER2013 train, validated on all of val: the reference
# recipe (flip + rotation) plus one option. Run from the repository root:
#   [PILOT_SUBSET=N] [PILOT_EPOCHS=E] [PILOT_THREADS=T] tools/pilots.sh RUNS_DIR [NAME...]
# Defaults: 8,000 images for 3 epochs (a short budget: about 11 minutes on 2 cores); 2,000 images for 15
# epochs repeats each image as often as a long run on the whole split does, so options that fight
# overfitting show their worth. Several instances with different names can run side by side.
# Each pilot's val accuracy per epoch ends up in RUNS_DIR/NAME/history.csv; summary.tsv collects the last.
set -euo pipefail
runs=${1:?usage: tools/pilots.sh RUNS_DIR [NAME...]}; shift
data=${FER2013:-../shared/data/fer2013}
fer=${FER_LIVE:-.build/release/fer-live}
declare -A options=(
  [reference]=""
  [pad-crop]="--pad-crop"
  [global-max]="--classifier-pooling global_max"
  [smoothing]="--label-smoothing 0.1"
  [dropout]="--dropout 0.3"
  [erasing]="--erasing 0.5"
  [mixup]="--mixup 0.2"
)
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(reference pad-crop global-max smoothing dropout erasing mixup)
mkdir -p "$runs"
for name in "${names[@]}"; do
  [ -v "options[$name]" ] || { echo "unknown pilot $name" >&2; exit 2; }
  out="$runs/$name"
  if [ -f "$out/history.csv" ] && [ "$(tail -n +2 "$out/history.csv" | wc -l)" -ge "${PILOT_EPOCHS:-3}" ]; then continue; fi
  mkdir -p "$out"
  if [ -f "$out/checkpoint.safetensors" ]; then
    args=(--resume "$out/checkpoint.safetensors")          # its stored settings continue
  else
    read -r -a args <<< "--epochs ${PILOT_EPOCHS:-3} --subset ${PILOT_SUBSET:-8000} --seed 1 ${options[$name]}"
  fi
  "$fer" train --data "$data" --out "$out/model.safetensors" --log-dir "$out" --threads "${PILOT_THREADS:-2}" "${args[@]}" >> "$out.log" 2>&1
  printf '%s\t%s\n' "$name" "$(tail -n 1 "$out/history.csv")" >> "$runs/summary.tsv"
done
