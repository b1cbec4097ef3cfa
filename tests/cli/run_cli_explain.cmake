# liteai explain (Grad-CAM) on tiny SYNTHETIC phantoms: per image the class explained and its
# probability, the .npy map at the image's size and both PNGs; --class, --layer and a graph model;
# errors name the option, the class and the layer.
include(${CMAKE_CURRENT_LIST_DIR}/run_cli_common.cmake)

cli_run(s synth --out data --n 20 --size 32 --seed 8 --quiet)
cli_run(t train --data data/manifest.csv --model compact_cxr --size 16 --epochs 2 --batch 5 --l2 0 --seed 3
        --quiet --out m.lai)
cli_run(e explain --model m.lai --out maps data/images/000000.png data/images/000001.png)
lines_of(lines "${e_out}")
list(LENGTH lines n)
expect("one line per image: ${e_out}" n EQUAL 2)
expect("path: class p (layer L): ${e_out}" e_out MATCHES
       "data/images/000000.png: [a-z_]+ [01]\\.[0-9][0-9][0-9][0-9] \\(layer conv3\\)\n")
foreach(i 000000 000001)
  check_npy(${WORK}/maps/${i}_gradcam.npy 32 32)
  check_png(${WORK}/maps/${i}_heatmap.png 32 32)
  check_png(${WORK}/maps/${i}_overlay.png 32 32)
endforeach()

cli_run(c explain --model m.lai --class foreign_body --layer conv2 --no-png --out maps2 data/images)
expect("--class and --layer: ${c_out}" c_out MATCHES "000002.png: foreign_body [01]\\.[0-9]+ \\(layer conv2\\)")
check_npy(${WORK}/maps2/000003_gradcam.npy 32 32)
expect("--no-png writes no PNG" NOT EXISTS ${WORK}/maps2/000003_heatmap.png)
cli_run(c2 explain --model m.lai --class 2 --out maps3 data/images/000004.png)
expect("a class index: ${c2_out}" c2_out MATCHES ": nodule [01]\\.[0-9]+")

cli_fail(f1 "explain: no layer 'nope' in the network \\(layers with a 4-D output: conv1, pool1, conv2"
         explain --model m.lai --layer nope --out maps4 data/images/000000.png)
cli_fail(f2 "explain: layer 'fc1' gives \\[1, 256\\], not a 4-D activation"
         explain --model m.lai --layer fc1 --out maps4 data/images/000000.png)
cli_fail(f3 "explain: --class 'lungs' is not a class of the model \\(classes: effusion, foreign_body"
         explain --model m.lai --class lungs --out maps4 data/images/000000.png)
cli_fail(f4 "explain: --out DIR is required" explain --model m.lai data/images/000000.png)
cli_fail(f5 "explain: --threshold" explain --model m.lai --threshold 2 --out maps4 data/images/000000.png)
cli_fail(f6 "missing.png" explain --model m.lai --out maps4 missing.png)
# An imported graph (ONNX round trip, when this build has ONNX): the default layer is the value
# after the last Conv node's activation, the same map as the zoo net's.
_cli_exec(x export m.lai --out m.onnx)
if(x_rc STREQUAL "0")
  cli_run(i import m.onnx --out g.lai)
  cli_run(g explain --model g.lai --out gmaps data/images/000000.png)
  expect("a graph model's default layer: ${g_out}" g_out MATCHES "000000.png: [a-z_]+ [01]\\.[0-9]+ \\(layer conv3_act\\)")
  check_npy(${WORK}/gmaps/000000_gradcam.npy 32 32)
  cli_run(g2 explain --model g.lai --layer conv2 --out gmaps2 data/images/000000.png)
  expect("a graph node names its output: ${g2_out}" g2_out MATCHES "\\(layer conv2\\)")
  cli_fail(g3 "explain: no layer 'nope' in the network \\(layers with a 4-D output: conv1, conv1_act"
           explain --model g.lai --layer nope --out gmaps3 data/images/000000.png)
else()
  message(STATUS "no ONNX in this build: the graph part is skipped (${x_err})")
endif()
message(STATUS "cli explain workflow: ok")
