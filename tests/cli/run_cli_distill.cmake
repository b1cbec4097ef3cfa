# liteai distill on tiny SYNTHETIC phantoms: a teacher trained here, then students taught online (the
# teacher runs beside them, another input size and architecture) and offline (logits written by
# `liteai predict --logits`), and the errors a user meets (no teacher, images without logits).
include(${CMAKE_CURRENT_LIST_DIR}/run_cli_common.cmake)

cli_run(s synth --out data --n 30 --size 32 --seed 2 --quiet)
cli_run(t train --data data/manifest.csv --model teacher_cxr --size 32 --epochs 1 --batch 6 --seed 3 --quiet
        --out teacher.lai)

# Online: a compact_cxr_gap student at 16 px learns from the 32 px teacher.
cli_run(d distill --teacher teacher.lai --student compact_cxr_gap --size 16 --data data/manifest.csv --epochs 1
        --batch 6 --temperature 3 --alpha 0.8 --seed 3 --out student.lai)
expect("distill saved the student: ${d_out}" d_out MATCHES "saved student.lai")
expect("the student is compact_cxr_gap: ${d_out}" d_out MATCHES "student: compact_cxr_gap")
expect("the teacher is reported with its memory: ${d_err}" d_err MATCHES "teacher: teacher_cxr, [0-9,]+ parameters")
cli_run(i info --json student.lai)
expect("student.lai holds a compact_cxr_gap" i_out MATCHES "\"name\": \"compact_cxr_gap\"")

# Offline: logits written by predict, in the documented CSV format.
cli_run(p predict --model teacher.lai --top 1 --logits logits.csv data/images)
file(STRINGS ${WORK}/logits.csv rows)
list(LENGTH rows n)
list(GET rows 0 header)
expect("logits.csv has a header and 30 rows (${n})" n EQUAL 31)
expect("logits.csv header names the classes: ${header}" header STREQUAL "image_id,effusion,foreign_body,nodule,normal,opacity")
cli_run(o distill --teacher-logits logits.csv --student small_cnn --size 28 --data data/manifest.csv --epochs 1
        --batch 6 --seed 3 --quiet --out offline.lai)
expect("offline distillation saved: ${o_out}" o_out MATCHES "saved offline.lai")

# A teacher from PyTorch (examples/distill/teacher_logits.py), when Debian's python3-torch is there.
if(EXAMPLES AND EXISTS /usr/bin/python3)
  execute_process(COMMAND /usr/bin/python3 -c "import torch, torchvision" RESULT_VARIABLE no_torch OUTPUT_QUIET ERROR_QUIET)
  if(no_torch EQUAL 0)
    execute_process(COMMAND /usr/bin/python3 ${EXAMPLES}/distill/teacher_logits.py --data data/manifest.csv
                            --out torch_logits.csv --model resnet18 --size 32
                    WORKING_DIRECTORY ${WORK} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    expect("teacher_logits.py ran: ${out}${err}" rc EQUAL 0)
    cli_run(pt distill --teacher-logits torch_logits.csv --student small_cnn --size 28 --data data/manifest.csv
            --epochs 1 --batch 6 --seed 3 --quiet --out torch_student.lai)
    expect("a student of the PyTorch teacher: ${pt_out}" pt_out MATCHES "saved torch_student.lai")
  else()
    message(STATUS "python3-torch not installed: the PyTorch teacher example is not run")
  endif()
endif()

# Errors.
list(SUBLIST rows 0 26 kept)  # the header and 25 of the 30 rows
list(JOIN kept "\n" kept)
file(WRITE ${WORK}/short.csv "${kept}\n")
cli_fail(f "5 training image\\(s\\) have no teacher logits in short.csv: .*000025.png" distill --teacher-logits short.csv
         --student small_cnn --size 28 --data data/manifest.csv --epochs 1 --quiet --out x.lai)
cli_fail(f "give one teacher" distill --student small_cnn --data data/manifest.csv --out x.lai)
cli_fail(f "give one teacher" distill --teacher teacher.lai --teacher-logits logits.csv --data data/manifest.csv --out x.lai)
cli_fail(f "--alpha must be in 0..1, got 1.5" distill --teacher teacher.lai --alpha 1.5 --data data/manifest.csv --out x.lai)
message(STATUS "cli distill workflow: ok")
