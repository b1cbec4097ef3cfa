# liteai train --distributed under `mpirun -np 2` (loopback, oversubscribed) on SYNTHETIC phantoms:
# 2 ranks x batch 4 give the weights of 1 rank x batch 8 with the same seed, up to float
# reassociation (compact_cxr 32 px: fc1's 131k-weight gradient streamed and exchanged as factors);
# a 1-rank run with batch 4 does not (so the comparison can fail). A failing rank ends the job with
# a message; --prox-mu needs --init. Run with -DMPIEXEC=<mpirun> -DCOMPARE=<cli_compare_models>.
# Without MPI in the build (-DHAVE_MPI=OFF): --distributed is refused with a message naming MPI.
include(${CMAKE_CURRENT_LIST_DIR}/run_cli_common.cmake)
cli_run(s synth --out data --n 40 --size 32 --seed 1 --quiet)
if(NOT HAVE_MPI)
  cli_fail(n "--distributed needs MPI.*openmpi" train --data data/manifest.csv --model compact_cxr --size 32 --epochs 1
           --distributed --out n.lai)
  return()
endif()
if(SANITIZED)
  message(STATUS "CLI_TEST_SKIPPED: the mpirun runs are checked in the Release build (sanitized build)")
  return()
endif()
if(NOT MPIEXEC OR NOT COMPARE)
  message(FATAL_ERROR "run with -DMPIEXEC=<mpirun> -DCOMPARE=<cli_compare_models>")
endif()
set(mpi ${MPIEXEC} --oversubscribe -np 2)
execute_process(COMMAND id -u OUTPUT_VARIABLE uid OUTPUT_STRIP_TRAILING_WHITESPACE)
if(uid STREQUAL "0")
  list(APPEND mpi --allow-run-as-root)
endif()

set(common --data data/manifest.csv --model compact_cxr --size 32 --l2 0 --lr 0.002 --seed 5 --epochs 2
           --threads 1 --stream-min 100000 --precision f32 --quiet)
cli_run(one train ${common} --batch 8 --out one.lai)
cli_run(half train ${common} --batch 4 --out half.lai)

function(mpi_exec prefix)
  string(JOIN " " cmd ${ARGN})
  message(STATUS "${mpi} liteai ${cmd}")
  execute_process(COMMAND ${mpi} ${LITEAI} ${ARGN} WORKING_DIRECTORY ${WORK} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE err)
  set(${prefix}_rc "${rc}" PARENT_SCOPE)
  set(${prefix}_out "${out}" PARENT_SCOPE)
  set(${prefix}_err "${err}" PARENT_SCOPE)
endfunction()

mpi_exec(two train ${common} --batch 4 --distributed --out two.lai --checkpoint two.ck --log two.csv)
if(NOT two_rc STREQUAL "0")
  message(FATAL_ERROR "2-rank training failed (exit ${two_rc})\n--- stdout:\n${two_out}\n--- stderr:\n${two_err}")
endif()
foreach(f two.lai two.ck two.csv)
  if(NOT EXISTS ${WORK}/${f})
    message(FATAL_ERROR "2-rank training did not write ${f}")
  endif()
endforeach()
file(STRINGS ${WORK}/two.csv rows)
list(LENGTH rows nrows)
expect("rank 0 alone writes the metrics log: a header and 2 epochs, got ${nrows} lines" nrows EQUAL 3)

execute_process(COMMAND ${COMPARE} ${WORK}/one.lai ${WORK}/two.lai 1e-4 RESULT_VARIABLE same OUTPUT_VARIABLE same_out
                ERROR_VARIABLE same_err)
message(STATUS "1 rank x 8 vs 2 ranks x 4: ${same_out}${same_err}")
expect("2 ranks x batch 4 must give the weights of 1 rank x batch 8: ${same_out}${same_err}" same STREQUAL "0")
execute_process(COMMAND ${COMPARE} ${WORK}/one.lai ${WORK}/half.lai 1e-4 RESULT_VARIABLE diff OUTPUT_VARIABLE diff_out)
message(STATUS "1 rank x 8 vs 1 rank x 4: ${diff_out}")
expect("batch 4 on one rank must differ from batch 8 (else the comparison proves nothing): ${diff_out}" diff STREQUAL "1")
execute_process(COMMAND ${COMPARE} ${WORK}/one.lai ${WORK}/two.ck 1e-4 RESULT_VARIABLE ck)
expect("the checkpoint holds the same weights" ck STREQUAL "0")

# 3 ranks x batch 2 against 1 x 6: 40 samples end with a global batch of 4 split 2 + 1 + 1, so the
# ranks' gradients must be weighted by their shares (2/4, 1/4, 1/4), not averaged.
cli_run(six train ${common} --batch 6 --out six.lai)
set(mpi3 ${mpi})
list(TRANSFORM mpi3 REPLACE "^2$" "3")
set(mpi_saved ${mpi})
set(mpi ${mpi3})
mpi_exec(three train ${common} --batch 2 --distributed --out three_ranks.lai)
set(mpi ${mpi_saved})
if(NOT three_rc STREQUAL "0")
  message(FATAL_ERROR "3-rank training failed (exit ${three_rc})\n--- stderr:\n${three_err}")
endif()
execute_process(COMMAND ${COMPARE} ${WORK}/six.lai ${WORK}/three_ranks.lai 1e-4 RESULT_VARIABLE same3 OUTPUT_VARIABLE same3_out)
message(STATUS "1 rank x 6 vs 3 ranks x 2: ${same3_out}")
expect("3 ranks x batch 2 must give the weights of 1 rank x batch 6: ${same3_out}" same3 STREQUAL "0")

# Resume the 2-rank checkpoint on 1 rank (another rank count) for a third epoch.
cli_run(res train --data data/manifest.csv --resume two.ck --epochs 3 --batch 8 --threads 1 --stream-min 100000
        --precision f32 --seed 5 --quiet --out three.lai)

# A failing rank (here both: a missing --init) ends the job with a message naming the rank.
mpi_exec(bad train ${common} --batch 4 --distributed --init missing.lai --out bad.lai)
expect("a failing rank must end the job with a non-zero status" NOT bad_rc STREQUAL "0")
expect("the failure names the rank: ${bad_err}" bad_err MATCHES "rank [01] of 2 failed: train: .*missing.lai")

# One rank failing alone (a damaged image lands in one shard) while the other waits in a collective:
# MPI_Abort ends the job (TIMEOUT: a hang fails the test instead of blocking it).
file(COPY ${WORK}/data DESTINATION ${WORK}/bad)
file(WRITE ${WORK}/bad/data/images/000003.png "not a PNG")
function(mpi_exec_timeout prefix)
  execute_process(COMMAND ${mpi} ${LITEAI} ${ARGN} WORKING_DIRECTORY ${WORK} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE err TIMEOUT 120)
  set(${prefix}_rc "${rc}" PARENT_SCOPE)
  set(${prefix}_err "${err}" PARENT_SCOPE)
endfunction()
string(REPLACE "data/manifest.csv" "bad/data/manifest.csv" bad_common "${common}")
mpi_exec_timeout(one_bad train ${bad_common} --batch 4 --distributed --out bad2.lai)
message(STATUS "one rank failing: exit ${one_bad_rc}")
expect("one failing rank must end the job with a non-zero status, not hang: ${one_bad_rc}" one_bad_rc MATCHES "^[0-9]+$"
       AND NOT one_bad_rc STREQUAL "0")
expect("the failure names the rank and the file: ${one_bad_err}" one_bad_err MATCHES "rank [01] of 2 failed: train: .*000003.png")
expect("no model is written" NOT EXISTS ${WORK}/bad2.lai)

cli_fail(p "--prox-mu .*--init" train ${common} --batch 8 --prox-mu 0.1 --out p.lai)
cli_run(pi train ${common} --batch 8 --init one.lai --prox-mu 0.1 --out prox.lai)
cli_run(pinfo info prox.lai)
expect("the provenance records --prox-mu" pinfo_out MATCHES "\"prox-mu\": 0.1")
cli_run(tinfo info two.lai)
expect("the provenance records the rank count" tinfo_out MATCHES "\"ranks\": 2")
