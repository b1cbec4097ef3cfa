# liteai train --roi (ROI-guided training) -> info -> predict -> eval on tiny SYNTHETIC phantoms: the
# model file records the ProbMat's path and SHA-256; predict and eval cut the same regions from the
# raw images; a moved ProbMat is found again with --roi, another one is refused.
include(${CMAKE_CURRENT_LIST_DIR}/run_cli_common.cmake)

cli_run(s synth --out normals --n 30 --size 64 --classes normal --seed 1 --quiet)
cli_run(s2 synth --out data --n 12 --size 64 --classes normal,foreign_body --seed 2 --quiet)
cli_run(s3 synth --out others --n 10 --size 64 --classes normal --seed 3 --quiet)
cli_run(b probmat build --data normals/images --size 64 --out pm.lpm --quiet)
cli_run(b2 probmat build --data others/images --size 64 --holdout 0 --out other.lpm --quiet)

cli_run(t train --data data/manifest.csv --roi pm.lpm --roi-k 2 --roi-size 16 --size 16 --epochs 1 --batch 4
        --threads 2 --out roi.lai --quiet)
if(NOT t_out MATCHES "saved roi.lai")
  message(FATAL_ERROR "train --roi: ${t_out}")
endif()
cli_run(i info --json roi.lai)
string(JSON arch GET "${i_out}" header architecture name)
string(JSON k GET "${i_out}" header preprocessing roi k)
string(JSON size GET "${i_out}" header preprocessing roi size)
string(JSON path GET "${i_out}" header preprocessing roi probmat)
string(JSON sha GET "${i_out}" header preprocessing roi probmat_sha256)
file(SHA256 ${WORK}/pm.lpm pm_sha)
if(NOT arch STREQUAL "roi_cxr" OR NOT k EQUAL 2 OR NOT size EQUAL 16 OR NOT path MATCHES "/pm.lpm$"
   OR NOT sha STREQUAL pm_sha)
  message(FATAL_ERROR "the model's ROI record: ${arch} k ${k} size ${size} ${path} ${sha} (pm.lpm ${pm_sha})")
endif()

cli_run(p predict --model roi.lai --top 0 data/images/000000.png data/images/000001.png)
lines_of(lines "${p_out}")
list(LENGTH lines n)
if(NOT n EQUAL 2 OR NOT p_out MATCHES "data/images/000000.png: (normal|foreign_body) [01]\\.[0-9]+ (normal|foreign_body) [01]\\.[0-9]+")
  message(FATAL_ERROR "predict on an ROI model: ${p_out}")
endif()
cli_run(e eval --model roi.lai --data data/manifest.csv)
if(NOT e_out MATCHES "samples: 12,")
  message(FATAL_ERROR "eval on an ROI model: ${e_out}")
endif()

# The ProbMat moved: predict says where the model expected it; --roi gives the new place.
file(RENAME ${WORK}/pm.lpm ${WORK}/moved.lpm)
cli_fail(f predict "pm.lpm" --model roi.lai data/images/000000.png)
cli_run(p2 predict --model roi.lai --top 0 --roi moved.lpm data/images/000000.png data/images/000001.png)
if(NOT p2_out STREQUAL p_out)
  message(FATAL_ERROR "predict with the moved ProbMat differs:\n${p2_out}\nbefore:\n${p_out}")
endif()
cli_run(e2 eval --model roi.lai --roi moved.lpm --data data/manifest.csv)
cli_fail(f2 predict "is not the ProbMat the model was trained with" --model roi.lai --roi other.lpm data/images/000000.png)
cli_fail(f3 train "--roi needs an ROI-guided model" --data data/manifest.csv --roi moved.lpm --model compact_cxr --size 16
         --epochs 1 --quiet)
cli_fail(f4 train "--roi-k and --roi-size describe the regions of --roi" --data data/manifest.csv --roi-k 3 --quiet)
