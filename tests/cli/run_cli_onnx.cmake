# liteai export / import / info on a model trained here on tiny SYNTHETIC phantoms: the ONNX file
# re-imports as a graph model that predicts what the original predicts, info lists its nodes, and
# the errors a user meets (a missing file, a file that is not ONNX) write nothing.
include(${CMAKE_CURRENT_LIST_DIR}/run_cli_common.cmake)

cli_run(s synth --out data --n 12 --size 32 --seed 4 --quiet)
cli_run(t train --data data/manifest.csv --model small_cnn --size 32 --epochs 1 --batch 6 --seed 4 --quiet
        --out model.lai)
cli_run(e export model.lai --out model.onnx)
expect("export wrote the file: ${e_out}" EXISTS ${WORK}/model.onnx)
cli_run(i import model.onnx --out graph.lai)
expect("import says what it made: ${i_out}" i_out MATCHES "imported model.onnx: [0-9]+ nodes, [0-9]+ parameters, input 1x32x32, 5 classes \\(softmax\\)")
cli_run(n info graph.lai)
expect("info lists the nodes with MACs: ${n_out}" n_out MATCHES "graph:.*node +op +output +parameters +MACs.*conv1 +Conv")
cli_run(v info --verify graph.lai)
expect("info --verify: ${v_out}" v_out MATCHES "checksums: ok")
# The class names came back from the file's metadata; the probabilities are the same.
cli_run(p1 predict --model model.lai --top 0 data/images/000000.png data/images/000001.png)
cli_run(p2 predict --model graph.lai --top 0 data/images/000000.png data/images/000001.png)
expect("the imported graph predicts what the model predicts:\n${p1_out}\n${p2_out}" p1_out STREQUAL p2_out)
# A zoo model exports straight from its .lai, a graph model too.
cli_run(e2 export graph.lai --out again.onnx)

cli_fail(f1 "nope\\.onnx: cannot open" import nope.onnx --out x.lai)
cli_fail(f2 "model\\.lai: not an ONNX model" import model.lai --out x.lai)
cli_fail(f3 "--out MODEL.lai is required" import model.onnx)
expect("nothing was written for the failed imports" NOT EXISTS ${WORK}/x.lai)
