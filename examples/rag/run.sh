#!/usr/bin/env bash
# Vector search in one command: builds edgefeat, creates the `rag` template repo (48 documents
# with deterministic 8-dimensional topic embeddings) in ./rag-demo the first time, registers
# it, materializes the documents into the LMDB online store, and serves on 127.0.0.1:6566
# until Ctrl-C. Try, from another terminal:
#
#   curl -X POST http://localhost:6566/search -d '{"features": ["documents:title", "documents:category"], "query": [0.9, 0, 0, 0.4, 0, 0, 0, 0], "top_k": 3, "api_version": 2}'
#
#   examples/rag/run.sh
#
# EDGEFEAT_RAG_DIR chooses another directory for the repo, EDGEFEAT_PORT another port. The
# repo's README.md lists more requests (filters, v1, pushing a document).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

cargo build --release --locked -p edgefeat
bin="${CARGO_TARGET_DIR:-$root/target}/release/edgefeat"
repo=${EDGEFEAT_RAG_DIR:-$root/rag-demo}
port=${EDGEFEAT_PORT:-6566}

if [ ! -f "$repo/feature_store.yaml" ]; then
  mkdir -p "$(dirname "$repo")"
  "$bin" -c "$(dirname "$repo")" init "$(basename "$repo")" --template rag
fi
"$bin" -c "$repo" apply
echo
"$bin" -c "$repo" materialize-incremental "$(date -u +%Y-%m-%dT%H:%M:%S)"
echo
echo "The repo is in $repo (its README.md has more requests). Try, from another terminal:"
echo "  curl -X POST http://localhost:$port/search -d '{\"features\": [\"documents:title\", \"documents:category\"], \"query\": [0.9, 0, 0, 0.4, 0, 0, 0, 0], \"top_k\": 3, \"api_version\": 2}'"
echo
exec "$bin" -c "$repo" serve --port "$port"
