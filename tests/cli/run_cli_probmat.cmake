# liteai probmat build|info|merge|score on SYNTHETIC phantoms: a ProbMat of normal images, then
# per-image WPM .npy (at the ProbMat's S x S), heatmap and overlay PNGs and `path,score` lines;
# round foreign bodies score above normal images with the circle score.
include(${CMAKE_CURRENT_LIST_DIR}/run_cli_common.cmake)

cli_run(s synth --out normals --n 24 --size 64 --classes normal --seed 1 --quiet)
cli_run(s synth --out test --n 6 --size 64 --classes normal,foreign_body --seed 2 --quiet)

# ---- build (flat image folder; manifest with --label; a compact form) and info ----
cli_run(b probmat build --data normals/images --size 64 --out pm.lpm --quiet)
cli_run(i probmat info pm.lpm)
if(NOT i_out MATCHES "images: 24\n" OR NOT i_out MATCHES "64x64 bins=256 counts=u32")
  message(FATAL_ERROR "probmat info: ${i_out}")
endif()
cli_run(b2 probmat build --data normals/manifest.csv --label normal --size 64 --scale 2 --bins 32 --counts 16 --limit 12
        --out small.lpm)
if(NOT b2_out MATCHES "probmat: 12 images -> small.lpm \\(64x64 bins=32 counts=u16 scale=2 .*grid=32x32")
  message(FATAL_ERROR "probmat build (compact): ${b2_out}")
endif()
cli_run(b3 probmat build --data normals/manifest.csv --label normal --size 64 --scale 2 --bins 32 --counts 16 --limit 12
        --out small_b.lpm --quiet)
cli_run(m probmat merge --out merged.lpm small.lpm small_b.lpm)
cli_run(mi probmat info merged.lpm)
if(NOT m_out MATCHES "merged 2 files, 24 images" OR NOT mi_out MATCHES "images: 24\n")
  message(FATAL_ERROR "probmat merge: ${m_out}\n${mi_out}")
endif()

# ---- score: outputs per image ----
function(check_scores out_text folder size)
  lines_of(lines "${out_text}")
  list(LENGTH lines n)
  list(GET lines 0 header)
  if(NOT n EQUAL 7 OR NOT header STREQUAL "path,score")
    message(FATAL_ERROR "score output: expected a header and 6 lines:\n${out_text}")
  endif()
  foreach(k RANGE 5)
    math(EXPR line_index "${k} + 1")
    list(GET lines ${line_index} line)
    set(name 00000${k})
    if(NOT line MATCHES "^test/images/${name}\\.png,(-?[0-9.]+(e[-+]?[0-9]+)?)$")
      message(FATAL_ERROR "score line '${line}' is not 'test/images/${name}.png,<number>'")
    endif()
    check_npy(${WORK}/${folder}/${name}_wpm.npy ${size} ${size})
    check_png(${WORK}/${folder}/${name}_heatmap.png ${size} ${size})
    check_png(${WORK}/${folder}/${name}_overlay.png ${size} ${size})
  endforeach()
endfunction()

cli_run(sc probmat score --probmat pm.lpm --out scores test/images)
check_scores("${sc_out}" scores 64)
# a compact ProbMat (1/2 resolution grid, 32 bins) still maps at its full 64 x 64 size
cli_run(sc2 probmat score --probmat merged.lpm --out scores_small --kind rel --smooth 0 test/images)
check_scores("${sc2_out}" scores_small 64)
# --normals/--fpr: threshold chosen on normal images, reported on stderr; --no-png writes only .npy
cli_run(sc3 probmat score --probmat pm.lpm --out scores_npy --normals normals/images --fpr 0.01 --no-png
        test/images/000001.png)
if(NOT sc3_err MATCHES "threshold [0-9.e+-]+ \\(pixel false-positive rate 0.01 on 24 normal images\\)")
  message(FATAL_ERROR "probmat score --normals: ${sc3_err}")
endif()
check_npy(${WORK}/scores_npy/000001_wpm.npy 64 64)
if(EXISTS ${WORK}/scores_npy/000001_heatmap.png)
  message(FATAL_ERROR "probmat score --no-png wrote a PNG")
endif()

# ---- the circle score separates the round foreign bodies (odd images) from the normals ----
cli_run(c probmat score --probmat pm.lpm --out circles --score circles --no-png test/images)
lines_of(lines "${c_out}")
set(min_fb 1e30)
set(max_normal -1e30)
foreach(k RANGE 5)
  math(EXPR line_index "${k} + 1")
  list(GET lines ${line_index} line)
  string(REGEX REPLACE "^.*," "" v "${line}")
  math(EXPR odd "${k} % 2")
  if(odd AND v LESS min_fb)
    set(min_fb ${v})
  elseif(NOT odd AND v GREATER max_normal)
    set(max_normal ${v})
  endif()
endforeach()
if(NOT min_fb GREATER max_normal)
  message(FATAL_ERROR "circle scores do not separate foreign bodies (lowest ${min_fb}) from normals (highest ${max_normal}):\n${c_out}")
endif()
message(STATUS "cli probmat workflow: ok (circle score: foreign bodies >= ${min_fb}, normals <= ${max_normal})")
