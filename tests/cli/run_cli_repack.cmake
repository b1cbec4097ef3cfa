# liteai repack on a model trained here on tiny SYNTHETIC phantoms: --fold gives a graph model that
# predicts what the original predicts, prints the before/after figures and the output difference,
# writes its JSON report and carries provenance naming the source; --bf16 halves the file; the
# errors a user meets (unknown option, missing file, --gray on a 1-channel model, no --out) name
# the problem and write nothing.
include(${CMAKE_CURRENT_LIST_DIR}/run_cli_common.cmake)

cli_run(s synth --out data --n 12 --size 32 --seed 4 --quiet)
cli_run(t train --data data/manifest.csv --model teacher_cxr --size 32 --epochs 1 --batch 6 --seed 4 --quiet
        --out model.lai)
cli_run(r repack --in model.lai --out folded.lai --fold --runs 2 --json report.json --quiet)
expect("repack names what it folded: ${r_out}" r_out MATCHES "folded BatchNormalization 'stage1_bn1' into Conv 'stage1_conv1'")
expect("repack removed the dropout: ${r_out}" r_out MATCHES "removed Dropout 'drop'")
expect("repack prints before and after: ${r_out}"
       r_out MATCHES "before +after.*parameters +1,2[0-9,]+ +1,2[0-9,]+.*file size.*inference memory \\(peak\\).*process peak RSS.*latency, batch 1")
expect("the exact transform stays within 1e-5: ${r_out}"
       r_out MATCHES "check \\(4 SYNTHETIC phantoms\\): largest output difference [-0-9.e+]+ \\(relative [-0-9.e+]+\\), within 1e-5")
expect("repack says where it saved: ${r_out}" r_out MATCHES "saved folded.lai")
file(READ ${WORK}/report.json j)
expect("the JSON report has the figures: ${j}" j MATCHES "\"before\":\\{\"parameters\":[0-9]+.*\"after\".*\"max_rel_diff\"")
cli_run(p1 predict --model model.lai --top 0 data/images/000000.png data/images/000001.png)
cli_run(p2 predict --model folded.lai --top 0 data/images/000000.png data/images/000001.png)
expect("the folded graph predicts what the model predicts:\n${p1_out}\n${p2_out}" p1_out STREQUAL p2_out)
cli_run(c card folded.lai)
expect("provenance: task repack, the source with its SHA-256: ${c_out}"
       c_out MATCHES "Task: repack.*source: model.lai \\(SHA-256 `[0-9a-f]+`\\)")

# bf16 weights on a check manifest: about half the file, the difference reported as not exact.
cli_run(b repack --in model.lai --out half.lai --fold --bf16 --check data/manifest.csv --check-count 3 --runs 2 --quiet)
expect("bf16 is reported as such: ${b_out}" b_out MATCHES "check \\(3 data/manifest.csv\\).*bf16 weights")
file(SIZE ${WORK}/folded.lai f32_size)
file(SIZE ${WORK}/half.lai bf16_size)
math(EXPR limit "${f32_size} * 6 / 10")
expect("bf16 file ${bf16_size} < 60% of ${f32_size}" bf16_size LESS limit)
cli_run(p3 predict --model half.lai --top 1 data/images/000000.png)

cli_fail(f1 "unknown option --grey" repack --in model.lai --out x.lai --grey)
cli_fail(f2 "nope\\.lai: cannot open" repack --in nope.lai --out x.lai)
cli_fail(f3 "--gray: the model already takes 1 channel \\(its first Conv 'stage1_conv1' reads 1 input channel\\)"
         repack --in model.lai --out x.lai --gray)
cli_fail(f4 "--out OUT.lai is required" repack --in model.lai)
cli_fail(f5 "--out must be another file than --in" repack --in model.lai --out model.lai --fold)
cli_fail(f6 "--check nowhere does not exist" repack --in model.lai --out x.lai --fold --check nowhere)
expect("nothing was written for the failed runs" NOT EXISTS ${WORK}/x.lai)
