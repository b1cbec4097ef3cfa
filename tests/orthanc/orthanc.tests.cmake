# The Orthanc plugin (examples/orthanc) in a real Orthanc on loopback: examples/orthanc/test_orthanc.py
# uploads phantom DICOMs and checks the results against `liteai predict` / `liteai probmat score`.
# Needs the plugin (orthanc-dev), the orthanc server, the DICOM module and /usr/bin/python3; not
# under the sanitizers (the plugin would need libasan preloaded into Orthanc).
find_program(LITEAI_ORTHANC_SERVER Orthanc PATHS /usr/sbin)
find_program(LITEAI_ORTHANC_PYTHON NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(TARGET liteai_orthanc AND TARGET make_dicom_files AND TARGET liteai_cli AND LITEAI_ORTHANC_SERVER
   AND LITEAI_ORTHANC_PYTHON AND NOT LITEAI_SANITIZE)
  add_test(NAME orthanc_plugin
           COMMAND ${LITEAI_ORTHANC_PYTHON} ${PROJECT_SOURCE_DIR}/examples/orthanc/test_orthanc.py
                   --orthanc ${LITEAI_ORTHANC_SERVER} --plugin $<TARGET_FILE:liteai_orthanc>
                   --liteai $<TARGET_FILE:liteai_cli> --dicom-files $<TARGET_FILE:make_dicom_files>
                   --work ${LITEAI_TEST_TMP}/orthanc_plugin --count 12)
  set_tests_properties(orthanc_plugin PROPERTIES TIMEOUT 600 ENVIRONMENT "LITEAI_NUM_THREADS=2")
else()
  message(STATUS "orthanc_plugin test skipped: needs orthanc and orthanc-dev, the DICOM module (DCMTK), "
                 "/usr/bin/python3, and a build without sanitizers")
endif()
