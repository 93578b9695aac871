# Sourced by lava_netx.sh and nir_run.sh: builds epchip, trains a small network on loihi2 (784-64-10,
# log-normal τ, 2 epochs) and exports its spiking deployment as FORMAT into $WORK/model.EXT with
# epchip's report ($WORK/report.json, `export --spiking --json`) and every digit's output spike
# counts ($WORK/counts.json) for the first DIGITS test digits. Sets BIN and WORK (removed on exit).
train_and_export_deployment() {
    local format=$1 ext=$2 digits=$3
    cargo build --release --quiet --bin epchip
    BIN="${CARGO_TARGET_DIR:-$(pwd)/target}/release/epchip"
    WORK=$(mktemp -d)
    trap 'rm -rf "$WORK"' EXIT
    "$BIN" train --profile loihi2 --dataset mnist10k --layers 784,64,10 --tau lognormal:cv=0.5 --epochs 2 \
        --seed 1 --quiet --out "$WORK/run"
    "$BIN" export --run "$WORK/run" --format "$format" --spiking --out "$WORK/model.$ext" --json \
        --examples "$digits" --counts "$WORK/counts.json" > "$WORK/report.json"
}
