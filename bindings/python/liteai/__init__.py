"""liteai from Python through ctypes (no compiled extension needed).

    import liteai
    m = liteai.Model.create("compact_cxr", size=64, classes=5)
    m.train("phantoms/manifest.csv", epochs=1, batch_size=8, progress=lambda p: print(p["loss"]))
    probs = m.predict(image)            # image: 2-D numpy array (uint8, uint16 or float32)
    pm = liteai.ProbMat(64, 64, bins=64)
    pm.add(normal_image)
    wpm, score = pm.wpm(image)

numpy is used when installed (arrays in and out); without it, images are passed as
(buffer, width, height, pixel_type) via liteai.Image and results come back as lists.
The library is found through $LITEAI_LIBRARY, else libliteai.so.<major> on the loader path.
Errors raise liteai.Error with .status (e.g. "LAI_ERR_IO") and the library's message.
"""
import ctypes as C
import os

try:
    if os.environ.get("LITEAI_PYTHON_NO_NUMPY"):  # tests the list-based path
        raise ImportError
    import numpy as np
except ImportError:
    np = None

ABI_MAJOR = 0

# ---------------------------------------------------------------- library and types

def _load_library():
    path = os.environ.get("LITEAI_LIBRARY")
    candidates = [path] if path else []
    candidates += ["libliteai.so.%d" % ABI_MAJOR, "libliteai.so"]
    last = None
    for c in candidates:
        try:
            return C.CDLL(c)
        except OSError as e:
            last = e
    raise OSError("liteai: cannot load the C library (set LITEAI_LIBRARY to libliteai.so): %s" % last)


_lib = _load_library()

PIXEL_U8, PIXEL_U16, PIXEL_F32 = 1, 2, 3
_STATUS = {0: "LAI_OK", 1: "LAI_ERR_INVALID_ARGUMENT", 2: "LAI_ERR_IO", 3: "LAI_ERR_FORMAT",
           4: "LAI_ERR_OUT_OF_MEMORY", 5: "LAI_ERR_CANCELLED", 6: "LAI_ERR_BUSY",
           7: "LAI_ERR_NOT_SUPPORTED", 100: "LAI_ERR_INTERNAL"}


class Error(Exception):
    def __init__(self, status, message):
        self.code = status
        self.status = _STATUS.get(status, "unknown status %d" % status)
        super().__init__("%s: %s" % (self.status, message))


class _Image(C.Structure):
    _fields_ = [("data", C.c_void_p), ("type", C.c_int), ("width", C.c_int32), ("height", C.c_int32),
                ("stride_bytes", C.c_size_t)]


class _ModelInfo(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("input_width", C.c_int32), ("input_height", C.c_int32),
                ("channels", C.c_int32), ("classes", C.c_int32), ("multi_label", C.c_int32),
                ("standardize", C.c_int32), ("parameters", C.c_int64), ("output_size", C.c_int64)]


class _Progress(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("phase", C.c_int), ("epoch", C.c_int32), ("epochs", C.c_int32),
                ("step", C.c_int64), ("steps_per_epoch", C.c_int64), ("global_step", C.c_int64),
                ("loss", C.c_double), ("metric", C.c_double), ("images_per_second", C.c_double),
                ("val_loss", C.c_double), ("val_metric", C.c_double), ("eta_seconds", C.c_double)]


_PROGRESS_FN = C.CFUNCTYPE(C.c_int, C.POINTER(_Progress), C.c_void_p)


class _TrainOptions(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("epochs", C.c_int32), ("batch_size", C.c_int32),
                ("learning_rate", C.c_float), ("optimizer", C.c_int), ("weight_decay", C.c_float),
                ("momentum", C.c_float), ("seed", C.c_uint64), ("validation_fraction", C.c_float),
                ("max_steps_per_epoch", C.c_int64), ("limit", C.c_int64), ("augment_hflip", C.c_int32),
                ("augment_shift", C.c_float), ("skip_bad_files", C.c_int32), ("verbose", C.c_int32),
                ("checkpoint_path", C.c_char_p), ("metrics_csv", C.c_char_p), ("progress", _PROGRESS_FN),
                ("user_data", C.c_void_p)]


class _TrainResult(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("epochs_done", C.c_int32), ("steps", C.c_int64),
                ("loss", C.c_double), ("metric", C.c_double), ("val_loss", C.c_double),
                ("val_metric", C.c_double), ("seconds", C.c_double), ("images_per_second", C.c_double),
                ("cancelled", C.c_int32)]


class _EvalResult(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("loss", C.c_double), ("metric", C.c_double),
                ("samples", C.c_int64)]


class _ProbMatConfig(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("width", C.c_int32), ("height", C.c_int32), ("bins", C.c_int32),
                ("count_bits", C.c_int32), ("scale", C.c_int32), ("tolerance", C.c_int32), ("lo", C.c_float),
                ("hi", C.c_float)]


class _WpmOptions(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("kind", C.c_int), ("eps", C.c_float), ("smooth_sigma", C.c_float),
                ("score", C.c_int), ("percentile", C.c_double), ("top_fraction", C.c_double),
                ("bandwidth", C.c_int), ("fixed_bandwidth", C.c_float), ("floor", C.c_float)]


class _SomOptions(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("rows", C.c_int32), ("cols", C.c_int32), ("topology", C.c_int),
                ("toroidal", C.c_int32), ("neighborhood", C.c_int), ("batch", C.c_int32), ("epochs", C.c_int32),
                ("lr_start", C.c_float), ("lr_end", C.c_float), ("radius_start", C.c_float),
                ("radius_end", C.c_float), ("pca_init", C.c_int32), ("seed", C.c_uint64),
                ("progress", _PROGRESS_FN), ("user_data", C.c_void_p)]


class _Circle(C.Structure):
    _fields_ = [("x", C.c_float), ("y", C.c_float), ("radius", C.c_float), ("votes", C.c_float),
                ("support", C.c_float)]


class _HoughOptions(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("min_radius", C.c_float), ("max_radius", C.c_float),
                ("min_dist", C.c_float), ("blur_sigma", C.c_float), ("low_threshold", C.c_float),
                ("high_threshold", C.c_float), ("noise_factor", C.c_float), ("min_votes", C.c_float),
                ("min_support", C.c_float), ("polarity", C.c_int)]


# Since C API 0.2.
class _ScoreOptions(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("score", C.c_int), ("percentile", C.c_double),
                ("top_fraction", C.c_double)]


class _AutoencoderOptions(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("size", C.c_int32), ("width", C.c_int32), ("epochs", C.c_int32),
                ("batch_size", C.c_int32), ("learning_rate", C.c_float), ("seed", C.c_uint64),
                ("smooth_sigma", C.c_float), ("calibration_floor", C.c_float), ("max_images", C.c_int64),
                ("label", C.c_char_p), ("skip_bad_files", C.c_int32), ("verbose", C.c_int32),
                ("progress", _PROGRESS_FN), ("user_data", C.c_void_p)]


class _EvalSummary(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("classes", C.c_int32), ("multi_label", C.c_int32),
                ("samples", C.c_int64), ("threshold", C.c_double), ("accuracy", C.c_double),
                ("exact_match", C.c_double), ("macro_precision", C.c_double), ("macro_recall", C.c_double),
                ("macro_f1", C.c_double), ("macro_auroc", C.c_double), ("auroc_classes", C.c_int32)]


class _ClassMetrics(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("support", C.c_int64), ("predicted", C.c_int64), ("tp", C.c_int64),
                ("fp", C.c_int64), ("fn", C.c_int64), ("tn", C.c_int64), ("precision", C.c_double),
                ("recall", C.c_double), ("f1", C.c_double), ("auroc", C.c_double)]


# Since C API 0.3.
class _SenafasOptions(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("patch", C.c_int32), ("max_features", C.c_int32),
                ("rows", C.c_int32), ("cols", C.c_int32), ("sd_floor", C.c_float), ("log_scale", C.c_int32),
                ("epochs", C.c_int32), ("seed", C.c_uint64), ("progress", _PROGRESS_FN), ("user_data", C.c_void_p)]


class _SenafasInfo(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("map_width", C.c_int32), ("map_height", C.c_int32),
                ("channel_width", C.c_int32), ("channel_height", C.c_int32), ("patch", C.c_int32),
                ("features", C.c_int32), ("rows", C.c_int32), ("cols", C.c_int32), ("log_scale", C.c_int32),
                ("floor", C.c_float)]


# The C structs by their header names (tests/abi's layout programs are checked against these).
_STRUCTS = {"lai_image": _Image, "lai_model_info": _ModelInfo, "lai_progress": _Progress,
            "lai_train_options": _TrainOptions, "lai_train_result": _TrainResult, "lai_eval_result": _EvalResult,
            "lai_probmat_config": _ProbMatConfig, "lai_wpm_options": _WpmOptions, "lai_som_options": _SomOptions,
            "lai_circle": _Circle, "lai_hough_options": _HoughOptions, "lai_score_options": _ScoreOptions,
            "lai_autoencoder_options": _AutoencoderOptions, "lai_eval_summary": _EvalSummary,
            "lai_class_metrics": _ClassMetrics, "lai_senafas_options": _SenafasOptions,
            "lai_senafas_info": _SenafasInfo}

_P = C.c_void_p
_S = C.c_int  # lai_status
_SIG = {
    "lai_last_error": (C.c_char_p, []),
    "lai_status_string": (C.c_char_p, [C.c_int]),
    "lai_version": (C.c_char_p, [C.POINTER(C.c_int32)] * 3),
    "lai_set_num_threads": (_S, [C.c_int32]),
    "lai_get_num_threads": (C.c_int32, []),
    "lai_image_decode_file": (_S, [C.c_char_p, _P, C.c_size_t, C.POINTER(C.c_int32), C.POINTER(C.c_int32)]),
    "lai_image_decode_memory": (_S, [_P, C.c_size_t, _P, C.c_size_t, C.POINTER(C.c_int32), C.POINTER(C.c_int32)]),
    "lai_phantom_render": (_S, [C.c_uint64, C.c_uint64, C.c_int32, _P, C.c_size_t, C.POINTER(C.c_int32)]),
    "lai_phantom_write_set": (_S, [C.c_char_p, C.c_int32, C.c_uint64, C.c_int32]),
    "lai_model_create": (_S, [C.c_char_p, C.c_int32, C.c_int32, C.c_uint64, C.POINTER(_P)]),
    "lai_model_load": (_S, [C.c_char_p, C.POINTER(_P)]),
    "lai_model_load_memory": (_S, [_P, C.c_size_t, C.POINTER(_P)]),
    "lai_model_save": (_S, [_P, C.c_char_p]),
    "lai_model_free": (None, [_P]),
    "lai_model_info_init": (None, [C.POINTER(_ModelInfo)]),
    "lai_model_get_info": (_S, [_P, C.POINTER(_ModelInfo)]),
    "lai_model_architecture": (_S, [_P, C.c_char_p, C.c_size_t, C.POINTER(C.c_size_t)]),
    "lai_model_class_name": (_S, [_P, C.c_int32, C.c_char_p, C.c_size_t, C.POINTER(C.c_size_t)]),
    "lai_model_set_class_names": (_S, [_P, C.POINTER(C.c_char_p), C.c_int32]),
    "lai_model_predict": (_S, [_P, _P, C.c_int, C.c_int32, C.c_int32, C.c_size_t, _P, C.c_size_t]),
    "lai_model_predict_batch": (_S, [_P, C.POINTER(_Image), C.c_size_t, _P, C.c_size_t]),
    "lai_model_predict_file": (_S, [_P, C.c_char_p, _P, C.c_size_t]),
    "lai_train_options_init": (None, [C.POINTER(_TrainOptions)]),
    "lai_train_result_init": (None, [C.POINTER(_TrainResult)]),
    "lai_eval_result_init": (None, [C.POINTER(_EvalResult)]),
    "lai_model_train": (_S, [_P, C.c_char_p, C.POINTER(_TrainOptions), C.POINTER(_TrainResult)]),
    "lai_model_evaluate": (_S, [_P, C.c_char_p, C.POINTER(_TrainOptions), C.POINTER(_EvalResult)]),
    "lai_trainer_create": (_S, [_P, C.POINTER(_TrainOptions), C.POINTER(_P)]),
    "lai_trainer_step": (_S, [_P, C.POINTER(_Image), C.c_size_t, _P, _P, C.c_size_t, C.POINTER(C.c_double)]),
    "lai_trainer_free": (None, [_P]),
    "lai_probmat_config_init": (None, [C.POINTER(_ProbMatConfig), C.c_int32, C.c_int32]),
    "lai_probmat_create": (_S, [C.POINTER(_ProbMatConfig), C.POINTER(_P)]),
    "lai_probmat_add": (_S, [_P, _P, C.c_int, C.c_int32, C.c_int32, C.c_size_t]),
    "lai_probmat_add_batch": (_S, [_P, C.POINTER(_Image), C.c_size_t]),
    "lai_probmat_add_files": (_S, [_P, C.POINTER(C.c_char_p), C.c_size_t]),
    "lai_probmat_merge": (_S, [_P, _P]),
    "lai_probmat_get_info": (_S, [_P, C.POINTER(_ProbMatConfig), C.POINTER(C.c_uint64)]),
    "lai_probmat_save": (_S, [_P, C.c_char_p]),
    "lai_probmat_load": (_S, [C.c_char_p, C.POINTER(_P)]),
    "lai_probmat_free": (None, [_P]),
    "lai_wpm_options_init": (None, [C.POINTER(_WpmOptions)]),
    "lai_probmat_wpm": (_S, [_P, _P, C.c_int, C.c_int32, C.c_int32, C.c_size_t, C.POINTER(_WpmOptions), _P,
                             C.c_size_t, C.POINTER(C.c_double)]),
    "lai_som_options_init": (None, [C.POINTER(_SomOptions)]),
    "lai_som_train": (_S, [_P, C.c_int64, C.c_int32, C.POINTER(_SomOptions), C.POINTER(_P)]),
    "lai_som_map": (_S, [_P, _P, C.c_int64, C.c_int32, _P, _P]),
    "lai_som_get_info": (_S, [_P, C.POINTER(C.c_int32), C.POINTER(C.c_int32), C.POINTER(C.c_int32)]),
    "lai_som_weights": (_S, [_P, _P, C.c_size_t]),
    "lai_som_quantization_error": (_S, [_P, _P, C.c_int64, C.c_int32, C.POINTER(C.c_double)]),
    "lai_som_save": (_S, [_P, C.c_char_p]),
    "lai_som_load": (_S, [C.c_char_p, C.POINTER(_P)]),
    "lai_som_free": (None, [_P]),
    "lai_hough_options_init": (None, [C.POINTER(_HoughOptions)]),
    "lai_hough_circles": (_S, [_P, C.c_int, C.c_int32, C.c_int32, C.c_size_t, C.POINTER(_HoughOptions),
                               C.POINTER(_Circle), C.c_size_t, C.POINTER(C.c_size_t)]),
}
# Functions of C API 0.2: optional, so this wrapper still loads a 0.1 library (using one of them
# there raises liteai.Error with status LAI_ERR_NOT_SUPPORTED).
_SIG_0_2 = {
    "lai_score_options_init": (None, [C.POINTER(_ScoreOptions)]),
    "lai_map_score": (_S, [C.POINTER(_Image), C.POINTER(_ScoreOptions), C.POINTER(C.c_double)]),
    "lai_write_heatmap_png": (_S, [C.c_char_p, C.POINTER(_Image), C.c_float, C.c_float]),
    "lai_write_overlay_png": (_S, [C.c_char_p, C.POINTER(_Image), C.POINTER(_Image), C.c_float, C.c_float,
                                   C.c_float]),
    "lai_autoencoder_options_init": (None, [C.POINTER(_AutoencoderOptions)]),
    "lai_autoencoder_train": (_S, [C.c_char_p, C.POINTER(_AutoencoderOptions), C.POINTER(_P)]),
    "lai_autoencoder_train_images": (_S, [C.POINTER(_Image), C.c_size_t, C.POINTER(_AutoencoderOptions),
                                          C.POINTER(_P)]),
    "lai_autoencoder_score": (_S, [_P, _P, C.c_int, C.c_int32, C.c_int32, C.c_size_t, C.POINTER(_ScoreOptions),
                                   _P, C.c_size_t, C.POINTER(C.c_double)]),
    "lai_autoencoder_score_file": (_S, [_P, C.c_char_p, C.POINTER(_ScoreOptions), _P, C.c_size_t,
                                        C.POINTER(C.c_double)]),
    "lai_autoencoder_get_info": (_S, [_P, C.POINTER(C.c_int32), C.POINTER(C.c_int32)]),
    "lai_autoencoder_save": (_S, [_P, C.c_char_p]),
    "lai_autoencoder_load": (_S, [C.c_char_p, C.POINTER(_P)]),
    "lai_autoencoder_free": (None, [_P]),
    "lai_model_evaluate_report": (_S, [_P, C.c_char_p, C.POINTER(_TrainOptions), C.c_double,
                                       C.POINTER(_EvalResult), C.POINTER(_P)]),
    "lai_eval_report_from_scores": (_S, [_P, C.c_int64, C.c_int32, _P, _P, C.c_double, C.POINTER(_P)]),
    "lai_eval_summary_init": (None, [C.POINTER(_EvalSummary)]),
    "lai_eval_report_get_summary": (_S, [_P, C.POINTER(_EvalSummary)]),
    "lai_class_metrics_init": (None, [C.POINTER(_ClassMetrics)]),
    "lai_eval_report_get_class": (_S, [_P, C.c_int32, C.POINTER(_ClassMetrics)]),
    "lai_eval_report_class_name": (_S, [_P, C.c_int32, C.c_char_p, C.c_size_t, C.POINTER(C.c_size_t)]),
    "lai_eval_report_confusion": (_S, [_P, _P, C.c_size_t]),
    "lai_eval_report_json": (_S, [_P, C.c_char_p, C.c_size_t, C.POINTER(C.c_size_t)]),
    "lai_eval_report_free": (None, [_P]),
}

# Functions of C API 0.3: optional in the same way (a 0.1 or 0.2 library lacks them).
_SIG_0_3 = {
    "lai_model_set_inference_precision": (_S, [_P, C.c_int]),
    "lai_model_get_inference_precision": (_S, [_P, C.POINTER(C.c_int)]),
    "lai_model_set_training_precision": (_S, [_P, C.c_int]),
    "lai_model_get_training_precision": (_S, [_P, C.POINTER(C.c_int)]),
    "lai_senafas_options_init": (None, [C.POINTER(_SenafasOptions)]),
    "lai_senafas_fit": (_S, [C.POINTER(_Image), C.c_size_t, C.POINTER(_SenafasOptions), C.POINTER(_P)]),
    "lai_senafas_fit_probmat": (_S, [_P, C.POINTER(_Image), C.c_size_t, C.POINTER(_WpmOptions),
                                     C.POINTER(_SenafasOptions), C.POINTER(_P)]),
    "lai_senafas_channel": (_S, [_P, C.POINTER(_Image), _P, C.c_size_t, C.POINTER(C.c_int32),
                                 C.POINTER(C.c_int32), C.POINTER(C.c_double)]),
    "lai_senafas_info_init": (None, [C.POINTER(_SenafasInfo)]),
    "lai_senafas_get_info": (_S, [_P, C.POINTER(_SenafasInfo)]),
    "lai_senafas_save": (_S, [_P, C.c_char_p]),
    "lai_senafas_load": (_S, [C.c_char_p, C.POINTER(_P)]),
    "lai_senafas_free": (None, [_P]),
}
# Functions of C API 0.4 (task options, tasks with options, descriptions, the log callback).
_LOG_FN = C.CFUNCTYPE(None, C.c_int, C.c_char_p, C.c_void_p)
_SIG_0_4 = {
    "lai_string_free": (None, [_P]),
    "lai_set_log_callback": (_S, [_LOG_FN, _P]),
    "lai_set_log_level": (_S, [C.c_int]),
    "lai_options_create": (_S, [C.c_char_p, C.POINTER(_P)]),
    "lai_options_free": (None, [_P]),
    "lai_options_set": (_S, [_P, C.c_char_p, C.c_char_p]),
    "lai_options_set_int": (_S, [_P, C.c_char_p, C.c_int64]),
    "lai_options_set_double": (_S, [_P, C.c_char_p, C.c_double]),
    "lai_options_unset": (_S, [_P, C.c_char_p]),
    "lai_options_set_progress": (_S, [_P, _PROGRESS_FN, _P]),
    "lai_options_get": (_S, [_P, C.c_char_p, C.c_char_p, C.c_size_t, C.POINTER(C.c_size_t)]),
    "lai_options_to_json": (_S, [_P, C.POINTER(_P)]),
    "lai_options_describe": (_S, [C.c_char_p, C.POINTER(_P)]),
    "lai_train": (_S, [_P, C.POINTER(_P), C.POINTER(_P)]),
    "lai_model_train_with": (_S, [_P, _P, C.POINTER(_P)]),
    "lai_model_evaluate_with": (_S, [_P, _P, C.POINTER(_P), C.POINTER(_P)]),
    "lai_probmat_build": (_S, [_P, C.POINTER(_P)]),
    "lai_probmat_wpm_with": (_S, [_P, C.POINTER(_Image), _P, _P, C.c_size_t, C.POINTER(C.c_double)]),
    "lai_phantom_write_set_with": (_S, [_P]),
    "lai_distill": (_S, [_P, C.POINTER(_P), C.POINTER(_P)]),
    "lai_model_distill": (_S, [_P, _P, C.POINTER(_P)]),
    "lai_model_calibrate": (_S, [_P, _P, C.POINTER(_P)]),
    "lai_models_merge": (_S, [C.POINTER(C.c_char_p), C.c_size_t, _P, C.POINTER(_P), C.POINTER(_P)]),
    "lai_model_import_onnx": (_S, [_P, C.POINTER(_P)]),
    "lai_model_export_onnx": (_S, [_P, C.c_char_p]),
    "lai_model_describe": (_S, [_P, C.POINTER(_P)]),
    "lai_probmat_describe": (_S, [_P, C.POINTER(_P)]),
    "lai_som_describe": (_S, [_P, C.POINTER(_P)]),
    "lai_autoencoder_describe": (_S, [_P, C.POINTER(_P)]),
    "lai_senafas_describe": (_S, [_P, C.POINTER(_P)]),
    "lai_dicom_available": (C.c_int32, []),
    "lai_dicom_read_file": (_S, [C.c_char_p, C.POINTER(_P)]),
    "lai_dicom_read_memory": (_S, [C.c_char_p, C.c_size_t, C.POINTER(_P)]),
    "lai_dicom_free": (None, [_P]),
    "lai_dicom_image": (_S, [_P, C.POINTER(_Image)]),
    "lai_dicom_describe": (_S, [_P, C.POINTER(_P)]),
    "lai_dicom_encode_sr": (_S, [_P, C.c_char_p, C.POINTER(_P), C.POINTER(C.c_size_t)]),
    "lai_dicom_encode_overlay": (_S, [_P, C.POINTER(_Image), C.c_float, C.c_char_p, C.POINTER(_P),
                                      C.POINTER(C.c_size_t)]),
    "lai_bytes_free": (None, [_P]),
    "lai_model_findings": (_S, [_P, _P, C.c_size_t, C.POINTER(_P)]),
    "lai_probmat_findings": (_S, [_P, C.POINTER(_Image), _P, C.c_int32, C.c_int32, C.POINTER(_P)]),
    "lai_image_to_unit": (_S, [C.POINTER(_Image), C.c_int32, C.c_int32, _P, C.c_size_t]),
    "lai_probmat_assess": (_S, [_P, C.POINTER(_Image), _P, C.POINTER(_P)]),
    "lai_autoencoder_assess": (_S, [_P, C.POINTER(_Image), _P, C.POINTER(_P)]),
    "lai_eval_detections": (_S, [_P, C.POINTER(_P)]),
    "lai_model_repack": (_S, [_P, C.POINTER(_P), C.POINTER(_P)]),
    "lai_set_limit": (_S, [C.c_char_p, C.c_int64]),
    "lai_get_limit": (_S, [C.c_char_p, C.POINTER(C.c_int64)]),
    "lai_model_explain": (_S, [_P, C.POINTER(_Image), _P, _P, C.c_size_t, C.POINTER(C.c_int32),
                               C.POINTER(C.c_float)]),
}
_OPTIONAL = dict([(n, "0.2") for n in _SIG_0_2] + [(n, "0.3") for n in _SIG_0_3] + [(n, "0.4") for n in _SIG_0_4])


class _Missing:
    def __init__(self, name):
        self.name = name

    def __call__(self, *args):
        raise Error(7, "%s is not in this libliteai (it needs C API %s, the library is %s)"
                    % (self.name, _OPTIONAL[self.name], _lib.lai_version(None, None, None).decode()))


def has(name):
    """True when the loaded library has C function `name` (e.g. "lai_senafas_fit")."""
    return not isinstance(getattr(_lib, name, None), (_Missing, type(None)))


for _name, (_res, _args) in list(_SIG.items()) + list(_SIG_0_2.items()) + list(_SIG_0_3.items()) + \
        list(_SIG_0_4.items()):
    try:
        _f = getattr(_lib, _name)
    except AttributeError:
        if _name not in _OPTIONAL:
            raise
        setattr(_lib, _name, _Missing(_name))
        continue
    _f.restype = _res
    _f.argtypes = _args


def _check(status):
    if status != 0:
        raise Error(status, _lib.lai_last_error().decode("utf-8", "replace"))


def _path(p):
    return os.fsencode(p)


def version():
    """(major, minor, patch) of the loaded library."""
    a, b, c = C.c_int32(), C.c_int32(), C.c_int32()
    _lib.lai_version(C.byref(a), C.byref(b), C.byref(c))
    return (a.value, b.value, c.value)


def set_num_threads(n):
    _check(_lib.lai_set_num_threads(int(n)))


def get_num_threads():
    return _lib.lai_get_num_threads()


def set_limit(name, value):
    """A resource limit of the process (max_image_pixels, max_file_bytes, max_tensor_bytes,
    max_total_bytes, max_header_bytes; C API 0.4): inputs asking for more are refused."""
    _check(_lib.lai_set_limit(name.encode(), int(value)))


def get_limit(name):
    v = C.c_int64()
    _check(_lib.lai_get_limit(name.encode(), C.byref(v)))
    return v.value


# ---------------------------------------------------------------- options, strings, log (C API 0.4)

def _take_string(ptr):
    """The text of a library-owned string, which is then released."""
    if not ptr.value:
        return None
    try:
        return C.string_at(ptr.value).decode("utf-8")
    finally:
        _lib.lai_string_free(ptr)


def _json_out(fn, *args):
    import json
    out = C.c_void_p()
    _check(fn(*args, C.byref(out)))
    return json.loads(_take_string(out))


def describe_options(task=None):
    """The options of a task as a list of dicts (name, type, default, min, max, choices, help,
    group), by the names `liteai <task> --help` shows; task None: the task names."""
    return _json_out(_lib.lai_options_describe, task.encode() if task else None)


class Options:
    """Options of one task ("train", "evaluate", "probmat-build", ...), with the names, defaults
    and ranges of the `liteai` command's long options. Keyword arguments use '_' for '-':
    Options("train", epochs=5, val_split=0.1, hflip=True). A value is checked when it is set."""

    def __init__(self, task, progress=None, **values):
        h = C.c_void_p()
        _check(_lib.lai_options_create(task.encode(), C.byref(h)))
        self._h, self.task = h, task
        self._cb = _Callback(progress) if progress else None
        if self._cb:
            _check(_lib.lai_options_set_progress(self._h, self._cb.c_fn, None))
        for k, v in values.items():
            self[k] = v

    def __setitem__(self, name, value):
        name = name.replace("_", "-").encode()
        if isinstance(value, bool):
            _check(_lib.lai_options_set_int(self._h, name, int(value)))
        elif isinstance(value, int):
            _check(_lib.lai_options_set_int(self._h, name, value))
        elif isinstance(value, float):
            _check(_lib.lai_options_set_double(self._h, name, value))
        elif isinstance(value, (list, tuple)):
            _check(_lib.lai_options_set(self._h, name, ",".join(str(x) for x in value).encode()))
        else:
            _check(_lib.lai_options_set(self._h, name, os.fsencode(value) if isinstance(value, os.PathLike)
                                        else str(value).encode()))

    def __getitem__(self, name):
        name = name.replace("_", "-").encode()
        need = C.c_size_t()
        _check(_lib.lai_options_get(self._h, name, None, 0, C.byref(need)))
        buf = C.create_string_buffer(need.value)
        _check(_lib.lai_options_get(self._h, name, buf, need.value, None))
        return buf.value.decode("utf-8")

    def to_dict(self):
        """The values that were set."""
        return _json_out(_lib.lai_options_to_json, self._h)

    def _raise_callback_error(self):
        if self._cb is not None and self._cb.error is not None:
            e, self._cb.error = self._cb.error, None
            raise e

    def close(self):
        if self._h:
            _lib.lai_options_free(self._h)
            self._h = C.c_void_p()

    def __del__(self):
        self.close()


def _options(task, options, progress=None):
    if isinstance(options, Options):
        return options
    return Options(task, progress=progress, **options)


_LOG_LEVELS = {0: "error", 1: "warning", 2: "info", 3: "debug"}
_log_keep = None


def set_log_callback(fn):
    """Sends the library's messages (progress lines, skipped files, warnings) to fn(level, text)
    instead of stderr; None restores stderr. fn runs on library threads: keep it short."""
    global _log_keep
    if fn is None:
        _check(_lib.lai_set_log_callback(_LOG_FN(), None))
        _log_keep = None
        return

    def trampoline(level, message, _user):
        try:
            fn(_LOG_LEVELS.get(level, "info"), message.decode("utf-8", "replace"))
        except BaseException:  # noqa: B902 - must not cross into C
            pass
    _log_keep = _LOG_FN(trampoline)
    _check(_lib.lai_set_log_callback(_log_keep, None))


def set_log_level(level):
    _check(_lib.lai_set_log_level({v: k for k, v in _LOG_LEVELS.items()}[level]))


def train(progress=None, **options):
    """Trains a new model with the options of `liteai train` (data=..., model=..., size=...,
    epochs=..., out=... ; '_' for '-'). Returns (Model, report dict)."""
    import json
    o = _options("train", options, progress)
    h, rep = C.c_void_p(), C.c_void_p()
    status = _lib.lai_train(o._h, C.byref(h), C.byref(rep))
    text = _take_string(rep)
    model = Model(h.value) if h.value else None
    o._raise_callback_error()
    _check(status)
    return model, (json.loads(text) if text else None)


def distill(progress=None, **options):
    """Knowledge distillation with the options of `liteai distill` (teacher=... or teacher_logits=...,
    student=..., temperature=..., alpha=..., and every option of train). Returns (Model, report)."""
    import json
    o = _options("distill", options, progress)
    h, rep = C.c_void_p(), C.c_void_p()
    status = _lib.lai_distill(o._h, C.byref(h), C.byref(rep))
    text = _take_string(rep)
    model = Model(h.value) if h.value else None
    o._raise_callback_error()
    _check(status)
    return model, (json.loads(text) if text else None)


def merge(paths, progress=None, **options):
    """Federated averaging of site model files with the options of `liteai merge` (weights=[...],
    bn="local", out=...). Returns (Model, report)."""
    import json
    o = _options("merge", options, progress)
    arr = (C.c_char_p * len(paths))(*[_path(p) for p in paths])
    h, rep = C.c_void_p(), C.c_void_p()
    status = _lib.lai_models_merge(arr, len(paths), o._h, C.byref(h), C.byref(rep))
    text = _take_string(rep)
    o._raise_callback_error()
    _check(status)
    return Model(h.value), json.loads(text)


def import_onnx(onnx, **options):
    """A model from ONNX with the options of `liteai import` (out=..., classes=[...], head=...,
    size=..., preprocess=..., keep_channels=...). Returns the Model (a graph model)."""
    o = _options("import", dict(options, onnx=str(onnx)))
    h = C.c_void_p()
    _check(_lib.lai_model_import_onnx(o._h, C.byref(h)))
    return Model(h.value)


def repack(input, out, **options):
    """Repacks the model file `input` into `out` with the options of `liteai repack` (gray=True,
    fold=True, bf16=True, check=DIR, check_count=..., runs=...). Returns (Model, report): the
    written model and the before/after figures (parameters, file size, inference RSS and latency
    at batch 1, largest output difference on the check batch)."""
    import json
    o = _options("repack", dict(options, **{"in": str(input), "out": str(out)}))
    h, rep = C.c_void_p(), C.c_void_p()
    status = _lib.lai_model_repack(o._h, C.byref(h), C.byref(rep))
    text = _take_string(rep)
    _check(status)
    return Model(h.value), json.loads(text)


# ---------------------------------------------------------------- images

class Image:
    """A gray image without numpy: a writable or read-only buffer plus its geometry."""

    def __init__(self, buffer, width, height, pixel_type=PIXEL_U8, stride_bytes=0):
        self.buffer, self.width, self.height = buffer, int(width), int(height)
        self.pixel_type, self.stride_bytes = int(pixel_type), int(stride_bytes)


def _as_image(img):
    """-> (keep_alive, pointer, pixel_type, width, height, stride_bytes)."""
    if isinstance(img, Image):
        buf = img.buffer
        if isinstance(buf, bytes):
            buf = bytearray(buf)
        mv = memoryview(buf)
        if mv.readonly:
            buf = bytearray(mv)
        arr = (C.c_char * len(memoryview(buf).cast("B"))).from_buffer(buf)
        return (buf, arr), C.addressof(arr), img.pixel_type, img.width, img.height, img.stride_bytes
    if np is None:
        raise TypeError("liteai: without numpy, pass images as liteai.Image(buffer, width, height, type)")
    a = np.asarray(img)
    if a.ndim != 2:
        raise ValueError("liteai: images are 2-D gray arrays, got shape %s" % (a.shape,))
    types = {np.dtype(np.uint8): PIXEL_U8, np.dtype(np.uint16): PIXEL_U16, np.dtype(np.float32): PIXEL_F32}
    if a.dtype not in types:
        a = a.astype(np.float32)
    if a.dtype.byteorder == ">":
        a = a.astype(a.dtype.newbyteorder("<"))
    # Rows may be strided (a crop of a larger array), pixels within a row must be adjacent.
    if a.strides[1] != a.itemsize or a.strides[0] < a.shape[1] * a.itemsize:
        a = np.ascontiguousarray(a)
    return a, a.ctypes.data, types[a.dtype], a.shape[1], a.shape[0], a.strides[0]


def _floats(n):
    if np is not None:
        out = np.empty(n, dtype=np.float32)
        return out, out.ctypes.data
    out = (C.c_float * n)()
    return out, C.addressof(out)


def _to_list_or_array(buf, shape=None):
    if np is not None:
        return buf.reshape(shape) if shape else buf
    return list(buf)


def decode_image(path):
    """Decodes an image file to gray float32 in source units (a 2-D array, or (list, w, h))."""
    w, h = C.c_int32(), C.c_int32()
    _check(_lib.lai_image_decode_file(_path(path), None, 0, C.byref(w), C.byref(h)))
    buf, ptr = _floats(w.value * h.value)
    _check(_lib.lai_image_decode_file(_path(path), ptr, w.value * h.value, C.byref(w), C.byref(h)))
    if np is not None:
        return buf.reshape(h.value, w.value)
    return list(buf), w.value, h.value


def image_to_unit(image, width, height):
    """The image resized to width x height and scaled to [0, 1] by its type's full scale, as
    `liteai probmat score` prepares images for a ProbMat (float32; C API 0.4)."""
    keep, ptr, t, w, h, stride = _as_image(image)
    img = _Image(ptr, t, w, h, stride)
    out, optr = _floats(width * height)
    _check(_lib.lai_image_to_unit(C.byref(img), int(width), int(height), optr, width * height))
    return _to_list_or_array(out, (height, width))


def phantom(seed, index, size=64):
    """SYNTHETIC chest-radiograph phantom: (image uint8 size x size, label 0..4); the image is a
    numpy array, or a liteai.Image without numpy."""
    label = C.c_int32()
    if np is not None:
        out = np.empty((size, size), dtype=np.uint8)
        ptr = out.ctypes.data
    else:
        out = bytearray(size * size)
        ptr = C.addressof((C.c_char * len(out)).from_buffer(out))
    _check(_lib.lai_phantom_render(seed, index, size, ptr, 0, C.byref(label)))
    if np is None:
        out = Image(out, size, size, PIXEL_U8)
    return out, label.value


def eval_detections(**options):
    """Image AUROC and FROC (object-CXR) with the options of `liteai eval-detections` (truth=
    manifest, detections=file or maps=folder, out=folder for evaluation.json and froc.csv/png/svg)
    as a dict (C API 0.4)."""
    o = Options("eval-detections", **options)
    return _json_out(_lib.lai_eval_detections, o._h)


def write_phantoms(directory, count, seed=1, size=64, **options):
    """Writes `count` SYNTHETIC phantoms as PNGs plus directory/manifest.csv. Further options of
    `liteai synth` (classes=[0, 1], noise=0.5, quiet=True) need C API 0.4."""
    if options:
        o = Options("synth", out=directory, n=count, seed=seed, size=size, **options)
        _check(_lib.lai_phantom_write_set_with(o._h))
    else:
        _check(_lib.lai_phantom_write_set(_path(directory), count, seed, size))
    return os.path.join(directory, "manifest.csv")


# ---------------------------------------------------------------- models and other handles

class _Handle:
    """Owns one C handle: freed by close(), a `with` block or garbage collection. Subclasses name
    their C functions: _free_fn, _describe_fn, and _load_fn / _save_fn when the object is kept in
    a file."""
    _h = C.c_void_p()
    _free_fn = _load_fn = _save_fn = _describe_fn = None

    def __init__(self, handle):
        self._h = C.c_void_p(handle)

    @classmethod
    def _wrap(cls, handle):
        return cls(handle)

    @classmethod
    def load(cls, path):
        h = C.c_void_p()
        _check(getattr(_lib, cls._load_fn)(_path(path), C.byref(h)))
        return cls._wrap(h.value)

    def save(self, path):
        _check(getattr(_lib, self._save_fn)(self._h, _path(path)))

    def describe(self):
        """What the handle is, memory included, as a dict (C API 0.4)."""
        return _json_out(getattr(_lib, self._describe_fn), self._h)

    def close(self):
        if self._h:
            getattr(_lib, self._free_fn)(self._h)
            self._h = C.c_void_p()

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _Callback:
    """Wraps a Python progress function; an exception in it cancels and is re-raised."""

    def __init__(self, fn):
        self.fn, self.error = fn, None

        def trampoline(p, _user):
            try:
                q = p.contents
                d = {k: getattr(q, k) for k, _ in _Progress._fields_ if k != "struct_size"}
                d["phase"] = {0: "train", 1: "epoch", 2: "evaluate"}.get(q.phase, "?")
                return 1 if fn(d) else 0
            except BaseException as e:  # noqa: B902 - must not cross into C
                self.error = e
                return 1
        self.c_fn = _PROGRESS_FN(trampoline) if fn else _PROGRESS_FN()


class Model(_Handle):
    _free_fn = "lai_model_free"
    _describe_fn = "lai_model_describe"
    _load_fn = "lai_model_load"
    _save_fn = "lai_model_save"

    @classmethod
    def create(cls, architecture="compact_cxr", size=0, classes=0, seed=42):
        h = C.c_void_p()
        _check(_lib.lai_model_create(architecture.encode(), size, classes, seed, C.byref(h)))
        return cls(h.value)

    @classmethod
    def from_bytes(cls, data):
        data = bytes(data)
        h = C.c_void_p()
        _check(_lib.lai_model_load_memory(data, len(data), C.byref(h)))
        return cls(h.value)

    @property
    def info(self):
        i = _ModelInfo()
        _lib.lai_model_info_init(C.byref(i))
        _check(_lib.lai_model_get_info(self._h, C.byref(i)))
        return {k: getattr(i, k) for k, _ in _ModelInfo._fields_ if k != "struct_size"}

    def _text(self, fn, *args):
        need = C.c_size_t()
        _check(fn(self._h, *args, None, 0, C.byref(need)))
        buf = C.create_string_buffer(need.value)
        _check(fn(self._h, *args, buf, need.value, None))
        return buf.value.decode("utf-8")

    @property
    def architecture(self):
        return self._text(_lib.lai_model_architecture)

    @property
    def class_names(self):
        return [self._text(_lib.lai_model_class_name, i) for i in range(self.info["classes"])]

    @class_names.setter
    def class_names(self, names):
        arr = (C.c_char_p * len(names))(*[n.encode() for n in names])
        _check(_lib.lai_model_set_class_names(self._h, arr, len(names)))

    # "bf16" is bf16 storage (0.3); "bf16-compute" also multiplies in bf16 (C API 0.4).
    _PRECISIONS = {"f32": 0, "bf16": 1, "bf16-storage": 1, "bf16-compute": 2}

    def _get_precision(self, fn):
        v = C.c_int()
        _check(fn(self._h, C.byref(v)))
        return {0: "f32", 1: "bf16", 2: "bf16-compute"}[v.value]

    @property
    def inference_precision(self):
        """"f32", "bf16" or "bf16-compute": dense weights used by predict/evaluate (C API 0.3). Setting
        "bf16" builds a bf16 copy of the dense weights (half their fp32 size, results differ from fp32
        by the weight rounding); "bf16-compute" also multiplies in bf16 in the convolutions (0.4);
        "f32" gives the fp32 results again. Not while other threads predict."""
        return self._get_precision(_lib.lai_model_get_inference_precision)

    @inference_precision.setter
    def inference_precision(self, precision):
        _check(_lib.lai_model_set_inference_precision(self._h, self._PRECISIONS[precision]))

    @property
    def training_precision(self):
        """"bf16" (default, mixed precision: bf16 activations kept for backward), "f32", or
        "bf16-compute" (bf16 conv products as well, fp32 master weights; C API 0.4)."""
        return self._get_precision(_lib.lai_model_get_training_precision)

    @training_precision.setter
    def training_precision(self, precision):
        _check(_lib.lai_model_set_training_precision(self._h, self._PRECISIONS[precision]))

    def predict(self, image):
        """Probabilities for one image (any size; resized and standardized by the library)."""
        keep, ptr, t, w, h, stride = _as_image(image)
        n = self.info["output_size"]
        out, optr = _floats(n)
        _check(_lib.lai_model_predict(self._h, ptr, t, w, h, stride, optr, n))
        return _to_list_or_array(out)

    def predict_batch(self, images):
        images = list(images)
        views = [_as_image(im) for im in images]
        arr = (_Image * len(views))(*[_Image(v[1], v[2], v[3], v[4], v[5]) for v in views])
        n = self.info["output_size"]
        out, optr = _floats(n * len(views))
        _check(_lib.lai_model_predict_batch(self._h, arr, len(views), optr, n * len(views)))
        if np is not None:
            return out.reshape(len(views), n)
        return [list(out[i * n:(i + 1) * n]) for i in range(len(views))]

    def findings(self, probabilities):
        """The probabilities as findings for DICOM results (a dict: model_name, model_version
        naming the weights, classes), C API 0.4; pass it to Dicom.sr / Dicom.overlay."""
        p = [float(v) for v in probabilities]
        arr = (C.c_float * len(p))(*p)
        return _json_out(_lib.lai_model_findings, self._h, C.addressof(arr), len(p))

    def explain(self, image, **options):
        """Grad-CAM (C API 0.4): where the model found the evidence for a class, as `liteai explain`
        computes it: a 2-D float32 map in [0, 1] at the image's size (rows of floats without
        numpy). Options of the task "explain": class (a class name or index; default the most
        probable class), layer (a module path such as "conv3", or a graph value or node; default
        the last convolution's activation)."""
        o = _options("explain", options)
        keep, ptr, t, w, h, stride = _as_image(image)
        img = _Image(ptr, t, w, h, stride)
        out, optr = _floats(w * h)
        _check(_lib.lai_model_explain(self._h, C.byref(img), o._h, optr, w * h, None, None))
        if np is not None:
            return out.reshape(h, w)
        return [list(out[y * w:(y + 1) * w]) for y in range(h)]

    def predict_file(self, path):
        n = self.info["output_size"]
        out, optr = _floats(n)
        _check(_lib.lai_model_predict_file(self._h, _path(path), optr, n))
        return _to_list_or_array(out)

    @staticmethod
    def _options(kw, progress):
        o = _TrainOptions()
        _lib.lai_train_options_init(C.byref(o))
        keep = []
        for k, v in kw.items():
            if k == "optimizer":
                v = {"adam": 0, "sgd": 1, "adamw": 2}[v]
            if k in ("checkpoint_path", "metrics_csv"):
                v = _path(v)
                keep.append(v)
            if not hasattr(o, k) or k in ("struct_size", "progress", "user_data"):
                raise TypeError("liteai: unknown training option '%s'" % k)
            setattr(o, k, v)
        cb = _Callback(progress)
        o.progress = cb.c_fn
        return o, cb, keep

    def train(self, data, progress=None, **options):
        """Trains on a folder (one sub-folder per class) or a CSV manifest. `progress(dict)`
        returning True cancels (liteai.Error with status LAI_ERR_CANCELLED). Returns a dict."""
        o, cb, _keep = self._options(options, progress)
        r = _TrainResult()
        _lib.lai_train_result_init(C.byref(r))
        status = _lib.lai_model_train(self._h, _path(data), C.byref(o), C.byref(r))
        if cb.error is not None:
            raise cb.error
        _check(status)
        return {k: getattr(r, k) for k, _ in _TrainResult._fields_ if k != "struct_size"}

    def evaluate(self, data, **options):
        o, _cb, _keep = self._options(options, None)
        r = _EvalResult()
        _lib.lai_eval_result_init(C.byref(r))
        _check(_lib.lai_model_evaluate(self._h, _path(data), C.byref(o), C.byref(r)))
        return {"loss": r.loss, "metric": r.metric, "samples": r.samples}

    def evaluate_report(self, data, threshold=0.5, progress=None, **options):
        """Per-class metrics on a data set: a dict with loss, samples, accuracy, macro averages,
        "classes" (a list of dicts: name, support, tp, fp, fn, tn, precision, recall, f1, auroc)
        and "confusion" (rows = true class; None for multi-label models)."""
        o, cb, _keep = self._options(options, progress)
        r = _EvalResult()
        _lib.lai_eval_result_init(C.byref(r))
        h = C.c_void_p()
        status = _lib.lai_model_evaluate_report(self._h, _path(data), C.byref(o), threshold, C.byref(r), C.byref(h))
        if cb.error is not None:
            raise cb.error
        _check(status)
        d = _report_dict(h)
        d.update({"loss": r.loss, "samples": r.samples})
        return d


    def train_with(self, progress=None, **options):
        """Trains this model with the options of `liteai train` (no model options). Returns the
        report dict (C API 0.4)."""
        import json
        o = _options("train", options, progress)
        rep = C.c_void_p()
        status = _lib.lai_model_train_with(self._h, o._h, C.byref(rep))
        text = _take_string(rep)
        o._raise_callback_error()
        _check(status)
        return json.loads(text) if text else None

    def export_onnx(self, path):
        """Writes the model as ONNX (what `liteai export` writes), checked before it is written."""
        _check(_lib.lai_model_export_onnx(self._h, _path(path)))

    def distill(self, progress=None, **options):
        """Trains this model as the student of a teacher (the options of `liteai distill`)."""
        import json
        o = _options("distill", options, progress)
        rep = C.c_void_p()
        status = _lib.lai_model_distill(self._h, o._h, C.byref(rep))
        text = _take_string(rep)
        o._raise_callback_error()
        _check(status)
        return json.loads(text) if text else None

    def calibrate(self, progress=None, **options):
        """Fits temperature scaling on validation data (the options of `liteai calibrate`: data=...)
        and keeps it: later predictions are calibrated. Returns the report (T, NLL, ECE before/after)."""
        import json
        o = _options("calibrate", options, progress)
        rep = C.c_void_p()
        status = _lib.lai_model_calibrate(self._h, o._h, C.byref(rep))
        text = _take_string(rep)
        o._raise_callback_error()
        _check(status)
        return json.loads(text) if text else None

    def evaluate_with(self, progress=None, **options):
        """Evaluates with the options of `liteai eval` (data=..., split=..., json=...). Returns the
        report dict (per-class metrics, loss, samples) (C API 0.4)."""
        import json
        o = _options("evaluate", options, progress)
        rep = C.c_void_p()
        status = _lib.lai_model_evaluate_with(self._h, o._h, None, C.byref(rep))
        text = _take_string(rep)
        o._raise_callback_error()
        _check(status)
        return json.loads(text) if text else None


class Trainer(_Handle):
    """Step-by-step training on images in memory; holds the model exclusively until closed.

        with liteai.Trainer(model, learning_rate=1e-3) as t:
            loss = t.step(images, labels=[0, 1, ...])      # or targets=[[0, 1, 0], ...] (multi-label)
    """
    _free_fn = "lai_trainer_free"

    def __init__(self, model, **options):
        o, _cb, _keep = Model._options(options, None)
        h = C.c_void_p()
        _check(_lib.lai_trainer_create(model._h, C.byref(o), C.byref(h)))
        self._h, self._model = h, model

    def step(self, images, labels=None, targets=None):
        images = list(images)
        views = [_as_image(im) for im in images]
        arr = (_Image * len(views))(*[_Image(v[1], v[2], v[3], v[4], v[5]) for v in views])
        lab = (C.c_int32 * len(views))(*[int(x) for x in labels]) if labels is not None else None
        tgt, nt = None, 0
        if targets is not None:
            flat = [float(v) for row in targets for v in row]
            tgt, nt = (C.c_float * len(flat))(*flat), len(flat)
        loss = C.c_double()
        _check(_lib.lai_trainer_step(self._h, arr, len(views), lab, tgt, nt, C.byref(loss)))
        return loss.value


# ---------------------------------------------------------------- ProbMat / WPM

def dicom_available():
    """True when the library reads and writes DICOM (built with DCMTK; C API 0.4)."""
    return has("lai_dicom_available") and bool(_lib.lai_dicom_available())


def _take_bytes(ptr, size):
    try:
        return C.string_at(ptr.value, size.value)
    finally:
        _lib.lai_bytes_free(ptr)


class Dicom(_Handle):
    """A DICOM image read by liteai (C API 0.4, liteai.dicom_available()): its display pixels
    (whole levels 0..65535: what a viewer shows, MONOCHROME1 inverted) and what results copy
    (describe()). Dicom.read(path) or Dicom.from_bytes(data); .image is a uint16 array (or a
    liteai.Image without numpy) for Model.predict, ProbMat.wpm, ...; .sr(findings) and
    .overlay(map, threshold, findings) give the result objects as DICOM file bytes."""
    _free_fn = "lai_dicom_free"
    _describe_fn = "lai_dicom_describe"
    _load_fn = "lai_dicom_read_file"

    @classmethod
    def read(cls, path):
        return cls.load(path)

    @classmethod
    def from_bytes(cls, data):
        data = bytes(data)
        h = C.c_void_p()
        _check(_lib.lai_dicom_read_memory(data, len(data), C.byref(h)))
        return cls(h.value)

    @property
    def image(self):
        v = _Image()
        _check(_lib.lai_dicom_image(self._h, C.byref(v)))
        raw = C.string_at(v.data, v.width * v.height * 2)
        if np is not None:
            return np.frombuffer(raw, dtype="<u2").reshape(v.height, v.width).copy()
        return Image(bytearray(raw), v.width, v.height, PIXEL_U16)

    @staticmethod
    def _findings(findings):
        import json
        return json.dumps(findings if findings is not None else {}).encode()

    def sr(self, findings):
        """The TID 1500 structured report of findings (a dict, or a list of dicts merged: e.g.
        [model.findings(p), {"anomaly_score": s, "circles": [...]}]) as DICOM file bytes."""
        out, n = C.c_void_p(), C.c_size_t()
        _check(_lib.lai_dicom_encode_sr(self._h, self._findings(findings), C.byref(out), C.byref(n)))
        return _take_bytes(out, n)

    def overlay(self, anomaly_map, threshold, findings=None):
        """The Secondary Capture (RGB) of this image with `anomaly_map` (any size) coloured above
        `threshold`, as DICOM file bytes."""
        keep, ptr, t, w, h, stride = _as_image(anomaly_map)
        img = _Image(ptr, t, w, h, stride)
        out, n = C.c_void_p(), C.c_size_t()
        _check(_lib.lai_dicom_encode_overlay(self._h, C.byref(img), float(threshold), self._findings(findings),
                                             C.byref(out), C.byref(n)))
        return _take_bytes(out, n)


class ProbMat(_Handle):
    _free_fn = "lai_probmat_free"
    _describe_fn = "lai_probmat_describe"
    _load_fn = "lai_probmat_load"
    _save_fn = "lai_probmat_save"

    def __init__(self, width=0, height=0, bins=256, count_bits=32, scale=1, tolerance=0, lo=0.0, hi=255.0,
                 _handle=None):
        if _handle is not None:
            self._h = C.c_void_p(_handle)
            return
        c = _ProbMatConfig()
        _lib.lai_probmat_config_init(C.byref(c), width, height)
        c.bins, c.count_bits, c.scale, c.tolerance, c.lo, c.hi = bins, count_bits, scale, tolerance, lo, hi
        h = C.c_void_p()
        _check(_lib.lai_probmat_create(C.byref(c), C.byref(h)))
        self._h = h

    @classmethod
    def _wrap(cls, handle):
        return cls(_handle=handle)

    def add(self, image):
        keep, ptr, t, w, h, stride = _as_image(image)
        _check(_lib.lai_probmat_add(self._h, ptr, t, w, h, stride))

    def add_files(self, paths):
        paths = [_path(p) for p in paths]
        arr = (C.c_char_p * len(paths))(*paths)
        _check(_lib.lai_probmat_add_files(self._h, arr, len(paths)))

    def merge(self, other):
        _check(_lib.lai_probmat_merge(self._h, other._h))

    @property
    def images(self):
        n = C.c_uint64()
        _check(_lib.lai_probmat_get_info(self._h, None, C.byref(n)))
        return n.value

    @classmethod
    def build(cls, progress=None, **options):
        """A ProbMat of the images of a data spec, with the options of `liteai probmat build`
        (data=..., size=..., label=..., bins=...) (C API 0.4)."""
        o = _options("probmat-build", options, progress)
        h = C.c_void_p()
        status = _lib.lai_probmat_build(o._h, C.byref(h))
        o._raise_callback_error()
        _check(status)
        return cls(_handle=h.value)

    def wpm_with(self, image, **options):
        """(map, score) with the options of `liteai probmat score` (kind, side, smooth, score...)."""
        o = _options("probmat-score", options)
        keep, ptr, t, w, h, stride = _as_image(image)
        img = _Image(ptr, t, w, h, stride)
        out, optr = _floats(w * h)
        s = C.c_double()
        _check(_lib.lai_probmat_wpm_with(self._h, C.byref(img), o._h, optr, w * h, C.byref(s)))
        return _to_list_or_array(out, (h, w)), s.value

    def findings(self, anomaly_map, source_width, source_height, **options):
        """The findings of a WPM of this ProbMat (from wpm_with, same options) for DICOM results:
        its score and the circles found in it, in the pixels of the source (C API 0.4)."""
        o = _options("probmat-score", options)
        keep, ptr, t, w, h, stride = _as_image(anomaly_map)
        img = _Image(ptr, t, w, h, stride)
        return _json_out(_lib.lai_probmat_findings, self._h, C.byref(img), o._h, int(source_width),
                         int(source_height))

    def assess(self, image, **options):
        """What a reader gets for one image, with the options of `liteai probmat score` (the
        calibration's settings unless given; fp_per_image=0.125, level=0.9): a dict with score,
        p_value (None when uncalibrated), flagged, circle_threshold and circles [{x, y, radius,
        score, confidence}] in the image's pixels (C API 0.4)."""
        o = _options("probmat-score", options)
        keep, ptr, t, w, h, stride = _as_image(image)
        img = _Image(ptr, t, w, h, stride)
        return _json_out(_lib.lai_probmat_assess, self._h, C.byref(img), o._h)

    def wpm(self, image, kind="neglog", smooth_sigma=0.0, score="topk_mean"):
        """(map as a 2-D array / flat list, image score)."""
        keep, ptr, t, w, h, stride = _as_image(image)
        o = _WpmOptions()
        _lib.lai_wpm_options_init(C.byref(o))
        o.kind = {"neglog": 0, "one_minus_rel": 1}[kind]
        o.smooth_sigma = smooth_sigma
        o.score = {"topk_mean": 0, "percentile": 1, "max": 2, "mean": 3}[score]
        out, optr = _floats(w * h)
        s = C.c_double()
        _check(_lib.lai_probmat_wpm(self._h, ptr, t, w, h, stride, C.byref(o), optr, w * h, C.byref(s)))
        return _to_list_or_array(out, (h, w)), s.value


# ---------------------------------------------------------------- SOM

def _matrix(data):
    if np is not None:
        a = np.ascontiguousarray(np.asarray(data, dtype=np.float32))
        if a.ndim != 2:
            raise ValueError("liteai: SOM data must be 2-D (n x dim)")
        return a, a.ctypes.data, a.shape[0], a.shape[1]
    rows = [list(map(float, r)) for r in data]
    flat = (C.c_float * (len(rows) * len(rows[0])))(*[v for r in rows for v in r])
    return flat, C.addressof(flat), len(rows), len(rows[0])


class Som(_Handle):
    _free_fn = "lai_som_free"
    _describe_fn = "lai_som_describe"
    _load_fn = "lai_som_load"
    _save_fn = "lai_som_save"

    @classmethod
    def train(cls, data, rows=10, cols=10, epochs=20, hexagonal=False, batch=True, seed=1):
        keep, ptr, n, dim = _matrix(data)
        o = _SomOptions()
        _lib.lai_som_options_init(C.byref(o))
        o.rows, o.cols, o.epochs, o.topology, o.batch, o.seed = rows, cols, epochs, int(hexagonal), int(batch), seed
        h = C.c_void_p()
        _check(_lib.lai_som_train(ptr, n, dim, C.byref(o), C.byref(h)))
        return cls(h.value)

    @property
    def shape(self):
        r, c, d = C.c_int32(), C.c_int32(), C.c_int32()
        _check(_lib.lai_som_get_info(self._h, C.byref(r), C.byref(c), C.byref(d)))
        return r.value, c.value, d.value

    def map(self, data):
        """(best-matching unit per row, distance per row)."""
        keep, ptr, n, dim = _matrix(data)
        if np is not None:
            bmu = np.empty(n, dtype=np.int32)
            dist = np.empty(n, dtype=np.float32)
            bp, dp = bmu.ctypes.data, dist.ctypes.data
        else:
            bmu, dist = (C.c_int32 * n)(), (C.c_float * n)()
            bp, dp = C.addressof(bmu), C.addressof(dist)
        _check(_lib.lai_som_map(self._h, ptr, n, dim, bp, dp))
        return _to_list_or_array(bmu), _to_list_or_array(dist)

    @property
    def weights(self):
        r, c, d = self.shape
        out, optr = _floats(r * c * d)
        _check(_lib.lai_som_weights(self._h, optr, r * c * d))
        return _to_list_or_array(out, (r * c, d))


# ---------------------------------------------------------------- Hough

def hough_circles(image, min_radius=3.0, max_radius=30.0, polarity="bright", capacity=64, **options):
    """[(x, y, radius, votes, support), ...], strongest first."""
    keep, ptr, t, w, h, stride = _as_image(image)
    o = _HoughOptions()
    _lib.lai_hough_options_init(C.byref(o))
    o.min_radius, o.max_radius = min_radius, max_radius
    o.polarity = {"bright": 0, "dark": 1, "both": 2}[polarity]
    for k, v in options.items():
        if not hasattr(o, k) or k == "struct_size":
            raise TypeError("liteai: unknown Hough option '%s'" % k)
        setattr(o, k, v)
    circles = (_Circle * capacity)()
    found = C.c_size_t()
    _check(_lib.lai_hough_circles(ptr, t, w, h, stride, C.byref(o), circles, capacity, C.byref(found)))
    return [(c.x, c.y, c.radius, c.votes, c.support) for c in circles[:min(found.value, capacity)]]


# ---------------------------------------------------------------- since C API 0.2

def _image_struct(img):
    keep, ptr, t, w, h, stride = _as_image(img)
    return keep, _Image(ptr, t, w, h, stride)


def _score_options(score, percentile, top_fraction):
    o = _ScoreOptions()
    _lib.lai_score_options_init(C.byref(o))
    o.score = {"topk_mean": 0, "percentile": 1, "max": 2, "mean": 3}[score]
    o.percentile, o.top_fraction = percentile, top_fraction
    return o


def map_score(anomaly_map, score="topk_mean", percentile=99.9, top_fraction=0.001):
    """The image score of an anomaly map (WPM or autoencoder map; 2-D float array or liteai.Image)."""
    keep, m = _image_struct(anomaly_map)
    o = _score_options(score, percentile, top_fraction)
    s = C.c_double()
    _check(_lib.lai_map_score(C.byref(m), C.byref(o), C.byref(s)))
    return s.value


def write_heatmap_png(path, anomaly_map, lo=0.0, hi=-1.0):
    """RGB PNG of a map through a dark-to-bright colour ramp (lo >= hi: the map's own range)."""
    keep, m = _image_struct(anomaly_map)
    _check(_lib.lai_write_heatmap_png(_path(path), C.byref(m), lo, hi))


def write_overlay_png(path, image, anomaly_map, threshold, hi=-1.0, max_alpha=0.7):
    """The radiograph in gray with the map's colours blended in above `threshold` (a map of
    another size is resized to the image's)."""
    k1, i = _image_struct(image)
    k2, m = _image_struct(anomaly_map)
    _check(_lib.lai_write_overlay_png(_path(path), C.byref(i), C.byref(m), threshold, hi, max_alpha))


class Autoencoder(_Handle):
    """Autoencoder anomaly maps (train on normal images only; the map is size x size).

        ae = liteai.Autoencoder.train("phantoms/manifest.csv", label="normal", size=64, epochs=5)
        anomaly_map, score = ae.score(image)
    """
    _free_fn = "lai_autoencoder_free"
    _describe_fn = "lai_autoencoder_describe"
    _load_fn = "lai_autoencoder_load"
    _save_fn = "lai_autoencoder_save"

    @staticmethod
    def _options(kw, progress, label=None):
        o = _AutoencoderOptions()
        _lib.lai_autoencoder_options_init(C.byref(o))
        for k, v in kw.items():
            if not hasattr(o, k) or k in ("struct_size", "progress", "user_data", "label"):
                raise TypeError("liteai: unknown autoencoder option '%s'" % k)
            setattr(o, k, v)
        keep = label.encode() if label is not None else None
        o.label = keep
        cb = _Callback(progress)
        o.progress = cb.c_fn
        return o, cb, keep

    @classmethod
    def train(cls, data, label=None, progress=None, **options):
        """Trains on a flat folder of images, a class-folder tree or a CSV manifest (only class
        `label` when given). `progress(dict)` returning True cancels (LAI_ERR_CANCELLED)."""
        o, cb, _keep = cls._options(options, progress, label)
        h = C.c_void_p()
        status = _lib.lai_autoencoder_train(_path(data), C.byref(o), C.byref(h))
        if cb.error is not None:
            raise cb.error
        _check(status)
        return cls(h.value)

    @classmethod
    def train_images(cls, images, progress=None, **options):
        images = list(images)
        views = [_as_image(im) for im in images]
        arr = (_Image * len(views))(*[_Image(v[1], v[2], v[3], v[4], v[5]) for v in views])
        o, cb, _keep = cls._options(options, progress)
        h = C.c_void_p()
        status = _lib.lai_autoencoder_train_images(arr, len(views), C.byref(o), C.byref(h))
        if cb.error is not None:
            raise cb.error
        _check(status)
        return cls(h.value)

    def assess(self, image, **options):
        """Score, p_value, flagged and calibrated circles of one image as a dict, with the options
        of `liteai anomaly score` (fp_per_image=0.125, level=0.9, ...) (C API 0.4)."""
        o = _options("anomaly-score", options)
        keep, ptr, t, w, h, stride = _as_image(image)
        img = _Image(ptr, t, w, h, stride)
        return _json_out(_lib.lai_autoencoder_assess, self._h, C.byref(img), o._h)

    @property
    def map_size(self):
        w, h = C.c_int32(), C.c_int32()
        _check(_lib.lai_autoencoder_get_info(self._h, C.byref(w), C.byref(h)))
        return w.value, h.value

    def score(self, image, score="topk_mean", percentile=99.9, top_fraction=0.001):
        """(anomaly map as a 2-D array / flat list, image score)."""
        keep, ptr, t, w, h, stride = _as_image(image)
        mw, mh = self.map_size
        o = _score_options(score, percentile, top_fraction)
        out, optr = _floats(mw * mh)
        s = C.c_double()
        _check(_lib.lai_autoencoder_score(self._h, ptr, t, w, h, stride, C.byref(o), optr, mw * mh, C.byref(s)))
        return _to_list_or_array(out, (mh, mw)), s.value

    def score_file(self, path, score="topk_mean", percentile=99.9, top_fraction=0.001):
        mw, mh = self.map_size
        o = _score_options(score, percentile, top_fraction)
        out, optr = _floats(mw * mh)
        s = C.c_double()
        _check(_lib.lai_autoencoder_score_file(self._h, _path(path), C.byref(o), optr, mw * mh, C.byref(s)))
        return _to_list_or_array(out, (mh, mw)), s.value


def _report_dict(handle):
    """Reads a lai_eval_report into a dict and frees it."""
    try:
        s = _EvalSummary()
        _lib.lai_eval_summary_init(C.byref(s))
        _check(_lib.lai_eval_report_get_summary(handle, C.byref(s)))
        d = {k: getattr(s, k) for k, _ in _EvalSummary._fields_ if k != "struct_size"}
        d["multi_label"] = bool(s.multi_label)
        classes = []
        for i in range(s.classes):
            m = _ClassMetrics()
            _lib.lai_class_metrics_init(C.byref(m))
            _check(_lib.lai_eval_report_get_class(handle, i, C.byref(m)))
            c = {k: getattr(m, k) for k, _ in _ClassMetrics._fields_ if k != "struct_size"}
            need = C.c_size_t()
            _check(_lib.lai_eval_report_class_name(handle, i, None, 0, C.byref(need)))
            buf = C.create_string_buffer(need.value)
            _check(_lib.lai_eval_report_class_name(handle, i, buf, need.value, None))
            c["name"] = buf.value.decode("utf-8")
            classes.append(c)
        d["classes"] = classes
        if s.multi_label:
            d["confusion"] = None
        else:
            n = s.classes
            out = (C.c_int64 * (n * n))()
            _check(_lib.lai_eval_report_confusion(handle, out, n * n))
            d["confusion"] = [list(out[r * n:(r + 1) * n]) for r in range(n)]
        return d
    finally:
        _lib.lai_eval_report_free(handle)


def report_from_scores(scores, labels=None, targets=None, threshold=0.5):
    """Per-class metrics of your own predictions: scores n x classes; labels (n class indices,
    single-label) or targets (n x classes of 0/1, multi-label). Returns a dict like
    Model.evaluate_report (without loss)."""
    keep, ptr, n, c = _matrix(scores)
    lab = tgt = None
    if labels is not None:
        lab = (C.c_int32 * n)(*[int(x) for x in labels])
    if targets is not None:
        keep_t, tgt, nt, ct = _matrix(targets)
    h = C.c_void_p()
    _check(_lib.lai_eval_report_from_scores(ptr, n, c, lab and C.addressof(lab), tgt, threshold, C.byref(h)))
    return _report_dict(h)


# ---------------------------------------------------------------- since C API 0.3

def _image_array(images):
    views = [_as_image(im) for im in images]
    return views, (_Image * len(views))(*[_Image(v[1], v[2], v[3], v[4], v[5]) for v in views])


class Senafas(_Handle):
    """The senafas anomaly channel: fitted on anomaly maps (WPMs) of NORMAL images, it turns a map
    into a (W/patch) x (H/patch) channel, ~0 on ordinary anatomy and high on what no normal patch
    looks like; its maximum is an image score.

        sen = liteai.Senafas.fit(normal_wpms, patch=8)          # or Senafas.fit_probmat(pm, normals)
        channel, score = sen.channel(wpm)
    """
    _free_fn = "lai_senafas_free"
    _describe_fn = "lai_senafas_describe"
    _load_fn = "lai_senafas_load"
    _save_fn = "lai_senafas_save"

    @staticmethod
    def _options(kw, progress):
        o = _SenafasOptions()
        _lib.lai_senafas_options_init(C.byref(o))
        for k, v in kw.items():
            if not hasattr(o, k) or k in ("struct_size", "progress", "user_data"):
                raise TypeError("liteai: unknown senafas option '%s'" % k)
            setattr(o, k, v)
        cb = _Callback(progress)
        o.progress = cb.c_fn
        return o, cb

    @classmethod
    def fit(cls, maps, progress=None, **options):
        """Fits on >= 2 maps of one size (2-D float arrays or liteai.Image). Options: patch,
        max_features, rows, cols, sd_floor, log_scale, epochs, seed."""
        views, arr = _image_array(list(maps))
        o, cb = cls._options(options, progress)
        h = C.c_void_p()
        status = _lib.lai_senafas_fit(arr, len(views), C.byref(o), C.byref(h))
        if cb.error is not None:
            raise cb.error
        _check(status)
        return cls(h.value)

    @classmethod
    def fit_probmat(cls, probmat, images, smooth_sigma=0.0, progress=None, **options):
        """Fits on the WPMs (ProbMat.wpm with `smooth_sigma`) of >= 2 normal images."""
        views, arr = _image_array(list(images))
        w = _WpmOptions()
        _lib.lai_wpm_options_init(C.byref(w))
        w.smooth_sigma = smooth_sigma
        o, cb = cls._options(options, progress)
        h = C.c_void_p()
        status = _lib.lai_senafas_fit_probmat(probmat._h, arr, len(views), C.byref(w), C.byref(o), C.byref(h))
        if cb.error is not None:
            raise cb.error
        _check(status)
        return cls(h.value)

    @property
    def info(self):
        i = _SenafasInfo()
        _lib.lai_senafas_info_init(C.byref(i))
        _check(_lib.lai_senafas_get_info(self._h, C.byref(i)))
        return {k: getattr(i, k) for k, _ in _SenafasInfo._fields_ if k != "struct_size"}

    def channel(self, anomaly_map):
        """(channel as a 2-D array / flat list, image score = its maximum)."""
        keep, m = _image_struct(anomaly_map)
        w, h = C.c_int32(), C.c_int32()
        _check(_lib.lai_senafas_channel(self._h, C.byref(m), None, 0, C.byref(w), C.byref(h), None))
        out, optr = _floats(w.value * h.value)
        s = C.c_double()
        _check(_lib.lai_senafas_channel(self._h, C.byref(m), optr, w.value * h.value, None, None, C.byref(s)))
        return _to_list_or_array(out, (h.value, w.value)), s.value
