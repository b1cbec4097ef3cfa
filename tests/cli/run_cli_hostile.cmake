# Hostile inputs to the `liteai` command (issue 12): every case refused with a clear error naming the
# path and the problem, within the resource limits, never a crash, a hang (every run has a timeout)
# or garbage results. The files are crafted here (cli_test_corrupt for bytes, FIFOs and locks).
include(${CMAKE_CURRENT_LIST_DIR}/run_cli_common.cmake)
if(NOT CORRUPT)
  message(FATAL_ERROR "run with -DCORRUPT=<cli_test_corrupt program>")
endif()
function(craft)
  execute_process(COMMAND ${CORRUPT} ${ARGN} WORKING_DIRECTORY ${WORK} RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "cli_test_corrupt ${ARGN}: ${err}")
  endif()
endfunction()

cli_run(s synth --out data --n 10 --size 32 --seed 1 --quiet)
cli_run(t train --data data/manifest.csv --model compact_cxr --size 16 --epochs 0 --quiet --out model.lai)
cli_run(b probmat build --data data/images --size 16 --bins 32 --out pm.lpm --quiet)
cli_run(a anomaly train --data data/images --size 16 --width 2 --epochs 1 --batch 4 --out ae.lai)
set(img data/images/000000.png)

# ---- a 261 KB all-black 16384x16384 PNG, and a header claiming 40000x40000: refused by the pixel
#      limit from the header, in every command that reads images (the limit is named) ----
craft(blackpng black.png 16384 16384)
craft(hugepng huge.png 40000 40000)
file(MAKE_DIRECTORY ${WORK}/big/normal ${WORK}/big/nodule)  # class folders named as the model's classes
file(COPY_FILE ${WORK}/black.png ${WORK}/big/normal/black.png)
file(COPY_FILE ${WORK}/${img} ${WORK}/big/nodule/ok.png)
set(limit "a 16384x16384 image \\(268435456 pixels\\) is over the limit of 67108864 pixels per image \\(LITEAI_MAX_IMAGE_PIXELS")
cli_fail(f "black\\.png: ${limit}" predict --model model.lai black.png)
cli_fail(f "huge\\.png: a 40000x40000 image \\(1600000000 pixels\\) is over the limit" predict --model model.lai huge.png)
cli_fail(f "black\\.png: ${limit}" hough black.png)
cli_fail(f "black\\.png: ${limit}" probmat score --probmat pm.lpm --out o black.png)
cli_fail(f "black\\.png: ${limit}" anomaly score --model ae.lai --out o black.png)
cli_fail(f "black\\.png: ${limit}" eval --model model.lai --data big)
cli_fail(f "black\\.png: ${limit}" train --data big --model compact_cxr --size 16 --epochs 1 --out x.lai --quiet)
cli_fail(f "black\\.png: ${limit}" probmat build --data big/normal --size 16 --out x.lpm --quiet)
cli_fail(f "black\\.png: ${limit}" anomaly train --data big/normal --size 16 --width 2 --epochs 1 --out x.lai)
# --limits changes them for one run: a raised pixel limit lets the 16384x16384 PNG through to the
# next limit; a lowered one refuses an ordinary image; bad settings name themselves.
cli_fail(f "${img}: a 32x32 image \\(1024 pixels\\) is over the limit of 100 pixels per image"
         predict --model model.lai --limits max_image_pixels=100 ${img})
cli_run(raised predict --model model.lai --limits max_image_pixels=512M ${img})
cli_fail(f "--limits: unknown limit 'max_pixels'" predict --model model.lai --limits max_pixels=5 ${img})
cli_fail(f "--limits: 'max_image_pixels' is not NAME=VALUE" predict --model model.lai --limits max_image_pixels ${img})
# --skip-bad makes it a counted skip, in the log and in the metrics file.
cli_run(k train --data big --model compact_cxr --size 16 --epochs 1 --batch 2 --skip-bad --log log.csv --out skip.lai --quiet)
if(NOT k_err MATCHES "skipping bad file: .*black\\.png: a 16384x16384 image" OR NOT k_err MATCHES "epoch 1: 1 bad file\\(s\\) skipped")
  message(FATAL_ERROR "train --skip-bad did not report the skipped file:\n${k_err}")
endif()
file(STRINGS ${WORK}/log.csv log)
list(GET log 0 head)
list(GET log 1 row)
if(NOT head MATCHES ",skipped$" OR NOT row MATCHES ",1$")
  message(FATAL_ERROR "metrics log does not count the skipped file:\n${log}")
endif()

# ---- special files: refused at once (a FIFO would block an open forever, /dev/zero never ends) ----
craft(fifo pipe)
craft(fifo pipe.npy)
cli_fail(f "pipe: is a FIFO \\(named pipe\\), not a regular file" predict --model model.lai pipe)
cli_fail(f "pipe: is a FIFO \\(named pipe\\), not a regular file" predict --model pipe ${img})
cli_fail(f "pipe: is a FIFO \\(named pipe\\), not a regular file" probmat score --probmat pipe --out o ${img})
cli_fail(f "pipe\\.npy: is a FIFO \\(named pipe\\), not a regular file" som train --data pipe.npy --out x.lsom)
cli_fail(f "pipe: is a FIFO \\(named pipe\\), not a regular file" train --data pipe --format csv --out x.lai)
cli_fail(f "pipe: is a FIFO \\(named pipe\\), not a regular file" info pipe)
cli_fail(f "/dev/zero: is a character device, not a regular file" predict --model model.lai /dev/zero)
cli_fail(f "/dev/zero: is a character device, not a regular file" hough /dev/zero)
cli_fail(f "data/images: is a directory, not a regular file" probmat info data/images)
cli_fail(f "data: is a directory, not a regular file" predict --model data ${img})

# ---- silent garbage: a bit-flipped RGB PNG (the colour path checks CRCs too) ----
craft(blackpng rgb.png 40 30 3)
file(SIZE ${WORK}/rgb.png rgb_size)
math(EXPR mid "${rgb_size} / 2")
craft(flip rgb.png rgb_flip.png ${mid})
cli_run(r predict --model model.lai rgb.png)
cli_fail(f "rgb_flip\\.png: corrupt data \\(PNG chunk 'IDAT' at offset [0-9]+ fails its CRC\\)" predict --model model.lai rgb_flip.png)
# Odd PNG headers get PNG messages, not JPEG ones.
craft(hex odd.png 89504e470d0a1a0a0000000d494844520000004000000040080700000012d516bb0000000049454e44ae426082)
cli_fail(f "odd\\.png: corrupt data \\(PNG" predict --model model.lai odd.png)
if(f_err MATCHES "SOI")
  message(FATAL_ERROR "a PNG error names a JPEG marker:\n${f_err}")
endif()

# ---- .npy shapes that overflow: refused naming the file (was: SIGSEGV, or 4 samples of dim 1) ----
craft(npy ovf.npy "(4, 4611686018427387905)" 16)
cli_fail(f "ovf\\.npy: .npy shape \\[4, 4611686018427387905\\] is too large" som train --data ovf.npy --out x.lsom)
craft(npy big.npy "(100000, 100000)" 16)
cli_fail(f "big\\.npy: the .npy array \\[100000, 100000\\] \\(37 GiB\\) is over the limit" som train --data big.npy --out x.lsom)

# ---- CSV manifests: duplicate rows, extra fields, a NUL in a label ----
file(WRITE ${WORK}/dup.csv "path,label\ndata/images/000000.png,a\ndata/images/000001.png,b\ndata/images/000000.png,b\n")
cli_fail(f "dup\\.csv line 4: image 'data/images/000000\\.png' is listed again \\(first on line 2\\)" train --data dup.csv --out x.lai)
file(WRITE ${WORK}/extra.csv "path,label\ndata/images/000000.png,a,oops\n")
cli_fail(f "extra\\.csv line 2: 3 fields, the header has 2" train --data extra.csv --out x.lai)
craft(hex nul.csv 706174682c6c6162656c0a646174612f696d616765732f3030303030302e706e672c6100620a)  # label "a\0b"
cli_fail(f "nul\\.csv line 2: column 'label' holds a NUL byte" train --data nul.csv --out x.lai)

# ---- a validation split that leaves nothing to train on is an error, no model is saved ----
cli_fail(f "leaves no training samples" train --data data/manifest.csv --model compact_cxr --size 16 --epochs 1 --val-split 0.95 --out none.lai --quiet)
if(EXISTS ${WORK}/none.lai)
  message(FATAL_ERROR "--val-split 0.95 of 10 samples saved a model")
endif()

# ---- duplicate class names in a model header (valid CRCs) ----
craft(dupclass model.lai dupclass.lai)
cli_fail(f "dupclass\\.lai header: class name 'effusion' appears at 0 and 1" predict --model dupclass.lai ${img})

# ---- data folders: a symbolic link loop is an error naming it; dangling links and special files
#      are skipped and reported ----
file(MAKE_DIRECTORY ${WORK}/scan/normal ${WORK}/scan/nodule)
file(COPY_FILE ${WORK}/data/images/000000.png ${WORK}/scan/normal/0.png)
file(COPY_FILE ${WORK}/data/images/000001.png ${WORK}/scan/nodule/1.png)
file(CREATE_LINK ${WORK}/nowhere.png ${WORK}/scan/normal/dangling.png SYMBOLIC)
craft(fifo scan/nodule/pipe.png)
cli_run(e eval --model model.lai --data scan)
if(NOT e_err MATCHES "scan: skipped 2 entries \\(1 a FIFO \\(named pipe\\), 1 a dangling symbolic link\\), e\\.g\\. .*dangling\\.png")
  message(FATAL_ERROR "the folder scan did not report what it skipped:\n${e_err}")
endif()
file(CREATE_LINK loop.png ${WORK}/scan/nodule/loop.png SYMBOLIC)
cli_fail(f "scan/nodule/loop\\.png: symbolic link loop" eval --model model.lai --data scan)

# ---- writers: a second writer of the same output is busy naming the first one's PID; a killed
#      writer's temp file is removed by the next save, a live one's is kept ----
execute_process(COMMAND ${CORRUPT} hold-output out.lai ${LITEAI} train --data data/manifest.csv --model compact_cxr
                        --size 16 --epochs 1 --out out.lai --quiet
                WORKING_DIRECTORY ${WORK} RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 1 OR NOT err MATCHES "out\\.lai: being written by process [0-9]+ \\(lock file out\\.lai\\.lock\\)")
  message(FATAL_ERROR "a second writer of out.lai was not refused (exit ${rc}):\n${err}")
endif()
if(EXISTS ${WORK}/out.lai)
  message(FATAL_ERROR "the refused writer wrote out.lai")
endif()
file(WRITE ${WORK}/out.lai.tmpDEAD01 "left by a writer killed with -9")
file(WRITE ${WORK}/out.lai.tmpLIVE01 "being written")
execute_process(COMMAND ${CORRUPT} hold-flock out.lai.tmpLIVE01 ${LITEAI} train --data data/manifest.csv
                        --model compact_cxr --size 16 --epochs 1 --out out.lai --quiet
                WORKING_DIRECTORY ${WORK} RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR EXISTS ${WORK}/out.lai.tmpDEAD01 OR NOT EXISTS ${WORK}/out.lai.tmpLIVE01
   OR EXISTS ${WORK}/out.lai.lock OR NOT EXISTS ${WORK}/out.lai)
  message(FATAL_ERROR "stale temp files were not handled (exit ${rc}):\n${err}")
endif()
# Output paths are checked before the work starts.
cli_fail(f "--out 'no/such/dir/x\\.lai': folder 'no/such/dir' does not exist" train --data data/manifest.csv --epochs 1 --out no/such/dir/x.lai)
cli_fail(f "checkpoint 'no/such/ck\\.lai': folder 'no/such' does not exist" train --data data/manifest.csv --epochs 1 --checkpoint no/such/ck.lai --out y.lai)
message(STATUS "cli hostile cases: ok")
