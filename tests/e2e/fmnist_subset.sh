# fmnist_subset.sh — sourced by e2e tests: cuts Fashion-MNIST subsets.
#
# subset IDX_GZ OUT HEADER_BYTES SAMPLE_BYTES COUNT writes the first COUNT
# samples of an IDX file: the magic, the count patched, the other
# dimensions, then the samples.
fmnist=/usr/share/datasets/fashion-mnist
be32() { printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 >> 24 & 255)) $(($1 >> 16 & 255)) $(($1 >> 8 & 255)) $(($1 & 255)); }
subset() {
  { zcat "$1" | head -c 4; printf "$(be32 "$5")"; zcat "$1" | head -c "$3" | tail -c +9
    zcat "$1" | tail -c +$(($3 + 1)) | head -c $(($5 * $4)); } > "$2"
}
# fmnist_images SPLIT OUT COUNT, fmnist_labels SPLIT OUT COUNT (SPLIT: train or t10k)
fmnist_images() { subset "$fmnist/$1-images-idx3-ubyte.gz" "$2" 16 784 "$3"; }
fmnist_labels() { subset "$fmnist/$1-labels-idx1-ubyte.gz" "$2" 8 1 "$3"; }
