#!/usr/bin/env python3
"""Keras oracle: reference cases for convscope's shape rules, parameter counts
and error messages.

Usage (inside a venv with keras==3.15.1 and tensorflow-cpu==2.21.0):

    python scripts/keras_oracle.py OUT_DIR

Writes OUT_DIR/rejected.json and OUT_DIR/accepted.json in the same record
format as shared/golden/invalid/{rejected,accepted}.json.

Staging (one layer per case, `keras.backend.clear_session()` before each):
  construct  `cls(**kwargs)` raises
  build      the symbolic call `layer(keras.Input(batch_shape=input_shape))`
             raises -- what `Sequential([keras.Input(...), layer])` does, but
             outside a model, so that variable paths in messages read
             'batch_normalization/gamma' as in the golden files (Sequential
             says 'sequential/batch_normalization/gamma'; the script redoes
             every case with Sequential and records `sequential_message` /
             `sequential_output_shape` where the result differs)
  call       only the eager call `layer(np.zeros(...))` on a batch of 1 raises
  null       accepted: symbolic and eager output shapes and parameter counts

`kwargs` is stored as JSON (lists); Keras is called with lists turned into
tuples, as one writes them in Python and as the golden files were made, so
messages echo `kernel_size=(0, 3)`.  Loading the same value from a config.json
gives a list and Keras then prints `[0, 3]`: see `from_config_message`.
`layer` is `serialize_keras_object(layer)` restricted to module / class_name /
config / registered_name.  When the constructor itself raises there is no
layer to serialize: the entry is then the serialized default layer of the
same class (named as Keras would name the next one, e.g. 'conv2d_1', as in the
golden files) with the raw kwargs written over its config -- what a
hand-edited config.json would hold.  `Layer.from_config` of that config raises
TypeError("Error when deserializing class 'Conv2D' using config={...}.\n\n
Exception encountered: <message>"); when <message> differs from the
constructor's message (or from_config accepts the config) the inner message is
recorded as `from_config_message`.

Messages are str(exception) byte for byte, except that the ANSI bold codes
ESC[1m / ESC[0m that Keras puts around the inner message of an "Exception
encountered when calling X.call()" error are removed, as in the golden files.

Extra fields beyond the golden format: `eager_input_shape` (when it is not
[1] + input_shape[1:]: None dims outside the batch axis are set to 8, a fixed
batch size is kept), `warnings` (Python warnings raised by Keras during the
case), `from_config_message`, `sequential_message`, `sequential_output_shape`,
and for call-stage rejections the symbolic shape and parameter counts.

The eager-call messages come from TensorFlow kernels and depend on the build
(oneDNN is on by default on x86; TF_ENABLE_ONEDNN_OPTS=0 changes e.g. the
Conv2DTranspose failures from AbortedError to InvalidArgumentError).

Deterministic: the script re-executes itself with PYTHONHASHSEED=0 because
some Keras messages print Python sets of strings (e.g. the allowed padding
values), whose order otherwise changes from run to run.
"""

import os
import sys

if os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")

import json  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402

import keras  # noqa: E402
from keras.src import activations as _keras_activations  # noqa: E402

EAGER_FILL = 8  # size used for unknown (None) non-batch dims in the eager call

# Minimal valid constructor arguments per class, used to synthesize the
# config of a layer whose constructor raised.
BASE_KWARGS = {
    "Conv2D": {"filters": 1, "kernel_size": 1},
    "DepthwiseConv2D": {"kernel_size": 1},
    "SeparableConv2D": {"filters": 1, "kernel_size": 1},
    "Conv2DTranspose": {"filters": 1, "kernel_size": 1},
    "MaxPooling2D": {},
    "AveragePooling2D": {"pool_size": 2},  # no default pool_size
    "GlobalAveragePooling2D": {},
    "GlobalMaxPooling2D": {},
    "BatchNormalization": {},
    "Activation": {"activation": "linear"},
    "ReLU": {},
    "LeakyReLU": {},
    "Softmax": {},
    "Dropout": {"rate": 0.5},
    "SpatialDropout2D": {"rate": 0.5},
    "Flatten": {},
    "Dense": {"units": 1},
    "ZeroPadding2D": {},
    "Cropping2D": {},
    "UpSampling2D": {},
    "Rescaling": {"scale": 1.0},
    "Reshape": {"target_shape": (-1,)},
    "Permute": {"dims": (1, 2, 3)},
    "Normalization": {},
    "LayerNormalization": {},
}

CASES = []
_IDS = set()


def case(cid, description, class_name, input_shape, **kwargs):
    assert cid not in _IDS, cid
    _IDS.add(cid)
    CASES.append(
        {
            "id": cid,
            "description": description,
            "class_name": class_name,
            "input_shape": list(input_shape),
            "kwargs": kwargs,
        }
    )


N = None
IN = [N, 8, 8, 3]  # default channels_last input
IN_CF = [N, 3, 8, 7]  # default channels_first input (H != W)

# --------------------------------------------------------------------------
# Conv2D
# --------------------------------------------------------------------------
C = "Conv2D"
case("conv_basic", "3x3 valid, 4 filters", C, IN, filters=4, kernel_size=3)
case("conv_filters_1", "filters=1", C, IN, filters=1, kernel_size=3)
case("conv_filters_zero", "filters=0", C, IN, filters=0, kernel_size=3)
case("conv_filters_minus1", "filters=-1", C, IN, filters=-1, kernel_size=3)
case("conv_filters_float", "filters=3.0 (float)", C, IN, filters=3.0, kernel_size=3)
case("conv_filters_float_frac", "filters=2.5", C, IN, filters=2.5, kernel_size=3)
case("conv_filters_string", "filters='3' (string)", C, IN, filters="3", kernel_size=3)
case("conv_filters_none", "filters=None", C, IN, filters=None, kernel_size=3)
case("conv_filters_huge", "filters=1000000, 1x1 kernel on 2x2x1", C, [N, 2, 2, 1],
     filters=1000000, kernel_size=1)
case("conv_kernel_int", "kernel_size=5 int", C, IN, filters=2, kernel_size=5)
case("conv_kernel_list", "kernel_size=[1,3]", C, IN, filters=2, kernel_size=[1, 3])
case("conv_kernel_zero", "kernel_size=0", C, IN, filters=2, kernel_size=0)
case("conv_kernel_zero_axis", "kernel_size=[0,3]", C, IN, filters=2, kernel_size=[0, 3])
case("conv_kernel_negative_axis", "kernel_size=[3,-1]", C, IN, filters=2, kernel_size=[3, -1])
case("conv_kernel_float", "kernel_size=2.5", C, IN, filters=2, kernel_size=2.5)
case("conv_kernel_float_whole", "kernel_size=3.0", C, IN, filters=2, kernel_size=3.0)
case("conv_kernel_list_floats", "kernel_size=[3.0,3.0] (floats in a list)", C, IN,
     filters=2, kernel_size=[3.0, 3.0])
case("conv_kernel_list_frac", "kernel_size=[2.5,2.5]", C, IN, filters=2, kernel_size=[2.5, 2.5])
case("conv_kernel_3_elems", "kernel_size=[3,3,3]", C, IN, filters=2, kernel_size=[3, 3, 3])
case("conv_kernel_1_elem", "kernel_size=[3]", C, IN, filters=2, kernel_size=[3])
case("conv_kernel_string", "kernel_size='3'", C, IN, filters=2, kernel_size="3")
case("conv_kernel_string_2chars", "kernel_size='33' (iterable of 2 digit chars)", C, IN,
     filters=2, kernel_size="33")
case("conv_kernel_eq_input", "kernel 8x8 on 8x8 valid", C, IN, filters=2, kernel_size=8)
case("conv_kernel_too_big_valid", "kernel 9 on 8x8 valid", C, IN, filters=2, kernel_size=9)
case("conv_kernel_too_big_same", "kernel 9 on 8x8 same", C, IN, filters=2, kernel_size=9,
     padding="same")
case("conv_kernel_too_big_one_axis", "kernel [1,9] on 8x8 valid", C, IN, filters=2,
     kernel_size=[1, 9])
case("conv_kernel_huge", "kernel 1000 on 8x8 valid", C, IN, filters=2, kernel_size=1000)
case("conv_strides_2", "strides=2 valid k3 on 8", C, IN, filters=2, kernel_size=3, strides=2)
case("conv_strides_2_same", "strides=2 same k3 on 8", C, IN, filters=2, kernel_size=3,
     strides=2, padding="same")
case("conv_strides_list", "strides=[2,1]", C, IN, filters=2, kernel_size=3, strides=[2, 1])
case("conv_strides_zero", "strides=0", C, IN, filters=2, kernel_size=3, strides=0)
case("conv_strides_zero_axis", "strides=[0,1]", C, IN, filters=2, kernel_size=3, strides=[0, 1])
case("conv_strides_minus1", "strides=-1", C, IN, filters=2, kernel_size=3, strides=-1)
case("conv_strides_float", "strides=2.0", C, IN, filters=2, kernel_size=3, strides=2.0)
case("conv_strides_3_elems", "strides=[1,1,1]", C, IN, filters=2, kernel_size=3,
     strides=[1, 1, 1])
case("conv_strides_gt_input_valid", "k1 strides 9 on 8 valid", C, IN, filters=2,
     kernel_size=1, strides=9)
case("conv_strides_gt_input_same", "k3 strides 10 on 8 same", C, IN, filters=2,
     kernel_size=3, strides=10, padding="same")
case("conv_strides_gt_kernel_valid_9", "k2 strides 3 on 9x8 valid", C, [N, 9, 8, 3],
     filters=2, kernel_size=2, strides=3)
case("conv_strides_huge", "strides=1000000 valid k1", C, IN, filters=2, kernel_size=1,
     strides=1000000)
case("conv_padding_valid", "padding='valid'", C, IN, filters=2, kernel_size=3, padding="valid")
case("conv_padding_same", "padding='same'", C, IN, filters=2, kernel_size=3, padding="same")
case("conv_padding_VALID", "padding='VALID'", C, IN, filters=2, kernel_size=3, padding="VALID")
case("conv_padding_Same", "padding='Same'", C, IN, filters=2, kernel_size=3, padding="Same")
case("conv_padding_causal", "padding='causal'", C, IN, filters=2, kernel_size=3, padding="causal")
case("conv_padding_full", "padding='full'", C, IN, filters=2, kernel_size=3, padding="full")
case("conv_padding_empty", "padding=''", C, IN, filters=2, kernel_size=3, padding="")
case("conv_padding_list", "padding=[1,1] (list passes construction)", C, IN, filters=2,
     kernel_size=3, padding=[1, 1])
case("conv_padding_int", "padding=1 (int)", C, IN, filters=2, kernel_size=3, padding=1)
case("conv_padding_none", "padding=None", C, IN, filters=2, kernel_size=3, padding=None)
case("conv_same_even_kernel_s2", "k4 s2 same on 7x7", C, [N, 7, 7, 1], filters=2,
     kernel_size=4, strides=2, padding="same")
case("conv_cf_basic", "channels_first k3 valid", C, IN_CF, filters=4, kernel_size=3,
     data_format="channels_first")
case("conv_cf_same_s2", "channels_first k3 s2 same on 3x7x5", C, [N, 3, 7, 5], filters=4,
     kernel_size=3, strides=2, padding="same", data_format="channels_first")
case("conv_cf_mixed_case", "data_format='Channels_First'", C, IN_CF, filters=4, kernel_size=3,
     data_format="Channels_First")
case("conv_cl_explicit", "data_format='channels_last'", C, IN, filters=4, kernel_size=3,
     data_format="channels_last")
case("conv_data_format_none", "data_format=None (global default)", C, IN, filters=4,
     kernel_size=3, data_format=None)
case("conv_data_format_nchw", "data_format='NCHW'", C, IN, filters=4, kernel_size=3,
     data_format="NCHW")
case("conv_cf_on_cl_input", "channels_first on an 8x8x3 (channels_last-shaped) input", C, IN,
     filters=4, kernel_size=3, data_format="channels_first")
case("conv_cf_channel_none", "channels_first with channel dim None", C, [N, N, 8, 8],
     filters=4, kernel_size=3, data_format="channels_first")
case("conv_dilation_2", "dilation 2 k3 valid on 8", C, IN, filters=2, kernel_size=3,
     dilation_rate=2)
case("conv_dilation_list", "dilation [2,1]", C, IN, filters=2, kernel_size=3,
     dilation_rate=[2, 1])
case("conv_dilation_3_exact", "k3 dilation 3 (eff 7) on 8 valid", C, IN, filters=2,
     kernel_size=3, dilation_rate=3)
case("conv_dilation_4_too_big", "k3 dilation 4 (eff 9) on 8 valid", C, IN, filters=2,
     kernel_size=3, dilation_rate=4)
case("conv_dilation_4_same", "k3 dilation 4 on 8 same", C, IN, filters=2, kernel_size=3,
     dilation_rate=4, padding="same")
case("conv_dilation_zero", "dilation 0", C, IN, filters=2, kernel_size=3, dilation_rate=0)
case("conv_dilation_minus1", "dilation -1", C, IN, filters=2, kernel_size=3, dilation_rate=-1)
case("conv_dilation_float", "dilation 2.0", C, IN, filters=2, kernel_size=3, dilation_rate=2.0)
case("conv_dilation_with_strides", "strides 2 + dilation 2", C, IN, filters=2, kernel_size=3,
     strides=2, dilation_rate=2)
case("conv_dilation_strides_same_axis", "strides [2,1] + dilation [2,1]", C, IN, filters=2,
     kernel_size=3, strides=[2, 1], dilation_rate=[2, 1])
case("conv_groups_3", "groups 3, 3 channels, 6 filters", C, IN, filters=6, kernel_size=3,
     groups=3)
case("conv_groups_channels_not_divisible", "groups 3 with 4 input channels", C,
     [N, 8, 8, 4], filters=6, kernel_size=3, groups=3)
case("conv_groups_gt_channels", "groups 6 with 3 input channels, 6 filters", C, IN,
     filters=6, kernel_size=3, groups=6)
case("conv_groups_filters_not_divisible", "filters 4 groups 3", C, IN, filters=4,
     kernel_size=3, groups=3)
case("conv_groups_both_not_divisible", "filters 5 groups 2 on 3 channels", C, IN,
     filters=5, kernel_size=3, groups=2)
case("conv_groups_zero", "groups 0", C, IN, filters=4, kernel_size=3, groups=0)
case("conv_groups_minus1", "groups -1", C, IN, filters=4, kernel_size=3, groups=-1)
case("conv_groups_float", "groups 2.0 on 4 channels", C, [N, 8, 8, 4], filters=4,
     kernel_size=3, groups=2.0)
case("conv_groups_cf", "channels_first groups 2 on 4 channels", C, [N, 4, 6, 6], filters=4,
     kernel_size=3, groups=2, data_format="channels_first")
case("conv_groups_cf_not_divisible", "channels_first groups 2 on 3 channels", C,
     [N, 3, 6, 6], filters=4, kernel_size=3, groups=2, data_format="channels_first")
case("conv_groups_channel_none", "groups 2 with channel dim None", C, [N, 8, 8, N],
     filters=4, kernel_size=3, groups=2)
case("conv_use_bias_false", "use_bias False", C, IN, filters=4, kernel_size=3, use_bias=False)
case("conv_use_bias_false_groups", "use_bias False groups 3", C, IN, filters=6,
     kernel_size=3, use_bias=False, groups=3)
case("conv_input_rank3", "rank-3 input", C, [N, 8, 3], filters=4, kernel_size=3)
case("conv_input_rank5", "rank-5 input", C, [N, 2, 8, 8, 3], filters=4, kernel_size=3)
case("conv_input_rank2", "rank-2 input", C, [N, 3], filters=4, kernel_size=3)
case("conv_unknown_hw", "H and W None", C, [N, N, N, 3], filters=4, kernel_size=3)
case("conv_unknown_h", "H None, W 8", C, [N, N, 8, 3], filters=4, kernel_size=3, strides=2)
case("conv_unknown_h_kernel_too_big_w", "H None, W 2 with k3 valid", C, [N, N, 2, 3],
     filters=4, kernel_size=3)
case("conv_unknown_hw_same", "H,W None same s2", C, [N, N, N, 3], filters=4, kernel_size=3,
     strides=2, padding="same")
case("conv_channel_none", "channel dim None", C, [N, 8, 8, N], filters=4, kernel_size=3)
case("conv_input_zero_valid", "input H=0, valid", C, [N, 0, 8, 3], filters=4, kernel_size=3)
case("conv_input_zero_same", "input H=0, same", C, [N, 0, 8, 3], filters=4, kernel_size=3,
     padding="same")
case("conv_channels_zero", "0 input channels", C, [N, 8, 8, 0], filters=4, kernel_size=3)
case("conv_fixed_batch", "batch dim fixed at 2", C, [2, 8, 8, 3], filters=4, kernel_size=3)
case("conv_unknown_kwarg", "unknown kwarg foo=1", C, IN, filters=4, kernel_size=3, foo=1)
case("conv_depth_multiplier_kwarg", "depth_multiplier is not a Conv2D argument", C, IN,
     filters=4, kernel_size=3, depth_multiplier=2)
case("conv_use_bias_string", "use_bias='False' (truthy string)", C, IN, filters=4,
     kernel_size=3, use_bias="False")

# Every identifier keras.activations.get() accepts (incl. aliases swish, hard_swish).
ACTIVATIONS = sorted(_keras_activations.ALL_OBJECTS_DICT)
ODD_ACTIVATIONS = ["ReLU", "Relu", "RELU", "Swish", "leakyrelu", "nonexistent", ""]

for name in ACTIVATIONS + ODD_ACTIVATIONS:
    case("conv_act_%s" % (name or "empty"), "Conv2D activation=%r" % name, C, [N, 5, 5, 2],
         filters=3, kernel_size=3, activation=name)
case("conv_act_none", "activation=None", C, [N, 5, 5, 2], filters=3, kernel_size=3,
     activation=None)
case("conv_act_glu_even", "activation='glu' with 4 filters", C, [N, 5, 5, 2], filters=4,
     kernel_size=3, activation="glu")
case("conv_act_int", "activation=1", C, [N, 5, 5, 2], filters=3, kernel_size=3, activation=1)

# initializers / regularizers / constraints
for init in ["he_normal", "he_uniform", "glorot_uniform", "glorot_normal", "lecun_normal",
             "orthogonal", "identity", "truncated_normal", "random_normal", "random_uniform",
             "variance_scaling", "zeros", "ones", "constant", "GlorotUniform", "HeNormal",
             "Orthogonal", "IdentityInitializer", "He_Normal", "nonexistent_init"]:
    case("conv_kinit_%s" % init,
         "kernel_initializer=%r" % init, C, [N, 5, 5, 2], filters=3, kernel_size=3,
         kernel_initializer=init)
case("conv_kinit_identity_1x1", "kernel_initializer='identity' with 1x1 kernel", C,
     [N, 5, 5, 2], filters=2, kernel_size=1, kernel_initializer="identity")
case("conv_binit_ones", "bias_initializer='ones'", C, [N, 5, 5, 2], filters=3, kernel_size=3,
     bias_initializer="ones")
case("conv_binit_unknown", "bias_initializer='nope'", C, [N, 5, 5, 2], filters=3,
     kernel_size=3, bias_initializer="nope")
for reg in ["l1", "l2", "l1_l2", "l1l2", "L1", "L2", "L1L2", "orthogonal_regularizer",
            "OrthogonalRegularizer", "nonexistent_reg"]:
    case("conv_kreg_%s" % reg,
         "kernel_regularizer=%r" % reg, C, [N, 5, 5, 2], filters=3, kernel_size=3,
         kernel_regularizer=reg)
case("conv_breg_l2", "bias_regularizer='l2'", C, [N, 5, 5, 2], filters=3, kernel_size=3,
     bias_regularizer="l2")
case("conv_actreg_l1", "activity_regularizer='l1'", C, [N, 5, 5, 2], filters=3,
     kernel_size=3, activity_regularizer="l1")
for con in ["max_norm", "min_max_norm", "non_neg", "unit_norm", "MaxNorm", "NonNeg",
            "maxnorm", "nonexistent_constraint"]:
    case("conv_kcon_%s" % con,
         "kernel_constraint=%r" % con, C, [N, 5, 5, 2], filters=3, kernel_size=3,
         kernel_constraint=con)
case("conv_bcon_non_neg", "bias_constraint='non_neg'", C, [N, 5, 5, 2], filters=3,
     kernel_size=3, bias_constraint="non_neg")

# --------------------------------------------------------------------------
# DepthwiseConv2D
# --------------------------------------------------------------------------
D = "DepthwiseConv2D"
case("dw_basic", "k3 valid", D, IN, kernel_size=3)
case("dw_dm2", "depth_multiplier 2", D, IN, kernel_size=3, depth_multiplier=2)
case("dw_dm0", "depth_multiplier 0", D, IN, kernel_size=3, depth_multiplier=0)
case("dw_dm_minus1", "depth_multiplier -1", D, IN, kernel_size=3, depth_multiplier=-1)
case("dw_dm_float", "depth_multiplier 2.0", D, IN, kernel_size=3, depth_multiplier=2.0)
case("dw_strides_dilation", "strides 2 + dilation 2 k3 on 9", D, [N, 9, 9, 3], kernel_size=3,
     strides=2, dilation_rate=2)
case("dw_strides_dilation_same", "strides 2 + dilation 2 k3 same on 9", D, [N, 9, 9, 3],
     kernel_size=3, strides=2, dilation_rate=2, padding="same")
case("dw_same_s2", "k3 s2 same on 7", D, [N, 7, 7, 2], kernel_size=3, strides=2,
     padding="same")
case("dw_kernel_too_big", "k9 valid on 8", D, IN, kernel_size=9)
case("dw_kernel_zero", "kernel_size 0", D, IN, kernel_size=0)
case("dw_strides_zero", "strides 0", D, IN, kernel_size=3, strides=0)
case("dw_no_bias", "use_bias False, dm 3", D, IN, kernel_size=3, depth_multiplier=3,
     use_bias=False)
case("dw_cf", "channels_first dm 2", D, IN_CF, kernel_size=3, depth_multiplier=2,
     data_format="channels_first")
case("dw_filters_kwarg", "filters is not an argument", D, IN, kernel_size=3, filters=4)
case("dw_groups_kwarg", "groups is not an argument", D, IN, kernel_size=3, groups=3)
case("dw_padding_causal", "padding causal", D, IN, kernel_size=3, padding="causal")
case("dw_channel_none", "channel dim None", D, [N, 8, 8, N], kernel_size=3)
case("dw_rank3", "rank-3 input", D, [N, 8, 3], kernel_size=3)

# --------------------------------------------------------------------------
# SeparableConv2D
# --------------------------------------------------------------------------
S = "SeparableConv2D"
case("sep_basic", "filters 4 k3", S, IN, filters=4, kernel_size=3)
case("sep_dm2", "depth_multiplier 2", S, IN, filters=4, kernel_size=3, depth_multiplier=2)
case("sep_dm0", "depth_multiplier 0", S, IN, filters=4, kernel_size=3, depth_multiplier=0)
case("sep_dm_minus1", "depth_multiplier -1", S, IN, filters=4, kernel_size=3,
     depth_multiplier=-1)
case("sep_filters_zero", "filters 0", S, IN, filters=0, kernel_size=3)
case("sep_filters_minus1", "filters -1", S, IN, filters=-1, kernel_size=3)
case("sep_groups_kwarg", "groups is not an argument", S, IN, filters=4, kernel_size=3, groups=2)
case("sep_no_bias", "use_bias False", S, IN, filters=4, kernel_size=3, use_bias=False)
case("sep_same_s2", "same s2", S, IN, filters=4, kernel_size=3, strides=2, padding="same")
case("sep_strides_dilation", "strides 2 + dilation 2", S, [N, 9, 9, 3], filters=4,
     kernel_size=3, strides=2, dilation_rate=2)
case("sep_cf", "channels_first", S, IN_CF, filters=4, kernel_size=3,
     data_format="channels_first")
case("sep_kernel_too_big", "k9 valid on 8", S, IN, filters=4, kernel_size=9)
case("sep_pointwise_init", "pointwise_initializer='he_normal', depthwise 'orthogonal'", S, IN,
     filters=4, kernel_size=3, pointwise_initializer="he_normal",
     depthwise_initializer="orthogonal")

# --------------------------------------------------------------------------
# Conv2DTranspose
# --------------------------------------------------------------------------
T = "Conv2DTranspose"
for padding in ["valid", "same"]:
    for k in range(1, 6):
        for s in range(1, 4):
            case("tconv_%s_k%d_s%d" % (padding, k, s),
                 "transposed k%d s%d %s on 3x4" % (k, s, padding), T, [N, 3, 4, 1],
                 filters=1, kernel_size=k, strides=s, padding=padding)
for padding in ["valid", "same"]:
    for k in [2, 3, 4]:
        for s, op in [(1, 0), (2, 0), (2, 1), (3, 0), (3, 2)]:
            case("tconv_%s_k%d_s%d_op%d" % (padding, k, s, op),
                 "transposed k%d s%d output_padding %d %s on 3x4" % (k, s, op, padding), T,
                 [N, 3, 4, 1], filters=1, kernel_size=k, strides=s, padding=padding,
                 output_padding=op)
case("tconv_op_tuple", "output_padding [1,0] strides [2,2]", T, [N, 3, 4, 1], filters=2,
     kernel_size=3, strides=2, output_padding=[1, 0])
case("tconv_op_ge_stride", "output_padding 2 strides 2", T, [N, 3, 4, 1], filters=2,
     kernel_size=3, strides=2, output_padding=2)
case("tconv_op_stride1", "output_padding 1 with strides 1", T, [N, 3, 4, 1], filters=2,
     kernel_size=3, output_padding=1)
case("tconv_op_second_axis", "output_padding [0,3] strides [2,3]", T, [N, 3, 4, 1],
     filters=2, kernel_size=3, strides=[2, 3], output_padding=[0, 3])
case("tconv_op_negative", "output_padding -1", T, [N, 3, 4, 1], filters=2, kernel_size=3,
     strides=2, output_padding=-1)
case("tconv_op_3_elems", "output_padding [1,1,1]", T, [N, 3, 4, 1], filters=2,
     kernel_size=3, strides=2, output_padding=[1, 1, 1])
case("tconv_op_float", "output_padding 1.0", T, [N, 3, 4, 1], filters=2, kernel_size=3,
     strides=2, output_padding=1.0)
case("tconv_op_none", "output_padding None explicit", T, [N, 3, 4, 1], filters=2,
     kernel_size=3, strides=2, output_padding=None)
case("tconv_dilation2_valid", "k3 dilation 2 valid", T, [N, 3, 4, 1], filters=2,
     kernel_size=3, dilation_rate=2)
case("tconv_dilation2_same", "k3 dilation 2 same", T, [N, 3, 4, 1], filters=2,
     kernel_size=3, dilation_rate=2, padding="same")
case("tconv_dilation2_k2_same", "k2 dilation 2 same", T, [N, 3, 4, 1], filters=2,
     kernel_size=2, dilation_rate=2, padding="same")
case("tconv_dilation2_same_op0", "k2 dilation 2 same output_padding 0", T, [N, 3, 4, 1],
     filters=2, kernel_size=2, dilation_rate=2, padding="same", output_padding=0)
case("tconv_dilation_strides", "strides 2 + dilation 2", T, [N, 3, 4, 1], filters=2,
     kernel_size=3, strides=2, dilation_rate=2)
case("tconv_cf", "channels_first k3 s2 same", T, [N, 3, 4, 5], filters=2, kernel_size=3,
     strides=2, padding="same", data_format="channels_first")
case("tconv_cf_valid_op", "channels_first k3 s2 valid op 1", T, [N, 3, 4, 5], filters=2,
     kernel_size=3, strides=2, output_padding=1, data_format="channels_first")
case("tconv_filters_zero", "filters 0", T, [N, 3, 4, 1], filters=0, kernel_size=3)
case("tconv_kernel_zero", "kernel_size 0", T, [N, 3, 4, 1], filters=2, kernel_size=0)
case("tconv_strides_zero", "strides 0", T, [N, 3, 4, 1], filters=2, kernel_size=3, strides=0)
case("tconv_groups_kwarg", "groups is not an argument", T, [N, 3, 4, 2], filters=2,
     kernel_size=3, groups=2)
case("tconv_padding_causal", "padding causal", T, [N, 3, 4, 1], filters=2, kernel_size=3,
     padding="causal")
case("tconv_padding_SAME", "padding 'SAME'", T, [N, 3, 4, 1], filters=2, kernel_size=3,
     strides=2, padding="SAME")
case("tconv_unknown_hw", "H,W None k3 s2", T, [N, N, N, 3], filters=2, kernel_size=3,
     strides=2)
case("tconv_channel_none", "channel dim None", T, [N, 3, 4, N], filters=2, kernel_size=3)
case("tconv_no_bias", "use_bias False, 3 channels, 5 filters", T, [N, 3, 4, 3], filters=5,
     kernel_size=3, use_bias=False)
case("tconv_rank3", "rank-3 input", T, [N, 4, 3], filters=2, kernel_size=3)

# --------------------------------------------------------------------------
# Pooling
# --------------------------------------------------------------------------
for P, p in [("MaxPooling2D", "maxpool"), ("AveragePooling2D", "avgpool")]:
    case(p + "_default", "default pool_size 2", P, IN)
    case(p + "_pool3", "pool_size 3 (strides default = pool) on 8", P, IN, pool_size=3)
    case(p + "_pool_tuple", "pool_size [2,3] on 8", P, IN, pool_size=[2, 3])
    case(p + "_pool_zero", "pool_size 0", P, IN, pool_size=0)
    case(p + "_pool_minus1", "pool_size -1", P, IN, pool_size=-1)
    case(p + "_pool_float", "pool_size 2.5", P, IN, pool_size=2.5)
    case(p + "_pool_3_elems", "pool_size [2,2,2]", P, IN, pool_size=[2, 2, 2])
    case(p + "_strides_1", "pool 3 strides 1", P, IN, pool_size=3, strides=1)
    case(p + "_strides_none", "pool 3 strides None", P, IN, pool_size=3, strides=None)
    case(p + "_strides_zero", "pool 2 strides 0", P, IN, pool_size=2, strides=0)
    case(p + "_strides_minus1", "pool 2 strides -1", P, IN, pool_size=2, strides=-1)
    case(p + "_strides_tuple", "pool 2 strides [1,2]", P, IN, pool_size=2, strides=[1, 2])
    case(p + "_same", "pool 3 same on 8", P, IN, pool_size=3, padding="same")
    case(p + "_SAME", "pool 2 padding 'SAME'", P, IN, pool_size=2, padding="SAME")
    case(p + "_Valid", "pool 2 padding 'Valid'", P, IN, pool_size=2, padding="Valid")
    case(p + "_padding_full", "padding 'full'", P, IN, pool_size=2, padding="full")
    case(p + "_gt_input_valid", "pool 9 on 8 valid", P, IN, pool_size=9)
    case(p + "_gt_input_same", "pool 9 on 8 same", P, IN, pool_size=9, padding="same")
    case(p + "_cf", "channels_first pool 2", P, [N, 3, 8, 6], pool_size=2,
         data_format="channels_first")
    case(p + "_cf_same_s1", "channels_first pool 3 strides 1 same", P, [N, 3, 7, 5],
         pool_size=3, strides=1, padding="same", data_format="channels_first")
    case(p + "_rank3", "rank-3 input", P, [N, 8, 3], pool_size=2)
    case(p + "_unknown_hw", "H,W None", P, [N, N, N, 3], pool_size=2)
case("maxpool_strides_float", "pool 2 strides 1.0", "MaxPooling2D", IN, pool_size=2,
     strides=1.0)
case("maxpool_data_format_caps", "data_format 'CHANNELS_FIRST'", "MaxPooling2D",
     [N, 3, 8, 6], pool_size=2, data_format="CHANNELS_FIRST")
case("maxpool_odd_input_valid", "pool 2 on 7x5 valid (floor)", "MaxPooling2D", [N, 7, 5, 1],
     pool_size=2)
case("maxpool_odd_input_same", "pool 2 on 7x5 same (ceil)", "MaxPooling2D", [N, 7, 5, 1],
     pool_size=2, padding="same")

for P, p in [("GlobalAveragePooling2D", "gap"), ("GlobalMaxPooling2D", "gmp")]:
    case(p + "_default", "default", P, IN)
    case(p + "_keepdims", "keepdims True", P, IN, keepdims=True)
    case(p + "_cf", "channels_first", P, [N, 3, 8, 6], data_format="channels_first")
    case(p + "_cf_keepdims", "channels_first keepdims", P, [N, 3, 8, 6],
         data_format="channels_first", keepdims=True)
    case(p + "_rank3", "rank-3 input", P, [N, 8, 3])
    case(p + "_unknown_hw", "H,W None", P, [N, N, N, 3])
case("gap_keepdims_string", "keepdims='yes'", "GlobalAveragePooling2D", IN, keepdims="yes")

# --------------------------------------------------------------------------
# BatchNormalization
# --------------------------------------------------------------------------
B = "BatchNormalization"
BIN = [N, 4, 5, 3]
case("bn_default", "axis -1", B, BIN)
case("bn_axis1", "axis 1", B, BIN, axis=1)
case("bn_axis3", "axis 3", B, BIN, axis=3)
case("bn_axis0", "axis 0 (batch)", B, BIN, axis=0)
case("bn_axis0_fixed_batch", "axis 0 with batch fixed at 2", B, [2, 4, 5, 3], axis=0)
case("bn_axis4", "axis 4 (out of range)", B, BIN, axis=4)
case("bn_axis_minus4", "axis -4", B, BIN, axis=-4)
case("bn_axis_minus5", "axis -5 (out of range)", B, BIN, axis=-5)
case("bn_axis_float", "axis 1.5", B, BIN, axis=1.5)
case("bn_axis_string", "axis '1'", B, BIN, axis="1")
case("bn_axis_list", "axis [1,2]", B, BIN, axis=[1, 2])
case("bn_center_false", "center False", B, BIN, center=False)
case("bn_scale_false", "scale False", B, BIN, scale=False)
case("bn_center_scale_false", "center and scale False", B, BIN, center=False, scale=False)
case("bn_epsilon_zero", "epsilon 0", B, BIN, epsilon=0.0)
case("bn_epsilon_negative", "epsilon -1", B, BIN, epsilon=-1.0)
case("bn_epsilon_string", "epsilon '1e-3'", B, BIN, epsilon="1e-3")
case("bn_momentum_zero", "momentum 0", B, BIN, momentum=0.0)
case("bn_momentum_one", "momentum 1", B, BIN, momentum=1.0)
case("bn_momentum_big", "momentum 1.5", B, BIN, momentum=1.5)
case("bn_momentum_negative", "momentum -0.5", B, BIN, momentum=-0.5)
case("bn_momentum_int", "momentum 1 (int)", B, BIN, momentum=1)
case("bn_rank2", "rank-2 input", B, [N, 6])
case("bn_channel_none", "channel dim None", B, [N, 4, 5, N])
case("bn_unknown_hw", "H,W None", B, [N, N, N, 3])
case("bn_gamma_init", "gamma_initializer 'zeros', beta_regularizer 'l2'", B, BIN,
     gamma_initializer="zeros", beta_regularizer="l2")
case("bn_renorm", "renorm True", B, BIN, renorm=True)

# --------------------------------------------------------------------------
# Activation layers
# --------------------------------------------------------------------------
AIN = [N, 4, 4, 2]
for name in ACTIVATIONS + ["ReLU", "Softmax", "nonexistent"]:
    case("act_layer_%s" % name,
         "Activation(%r)" % name, "Activation", AIN, activation=name)
case("act_layer_none", "Activation(None)", "Activation", AIN, activation=None)

R = "ReLU"
case("relu_default", "defaults", R, AIN)
case("relu_max6", "max_value 6", R, AIN, max_value=6.0)
case("relu_max_zero", "max_value 0", R, AIN, max_value=0.0)
case("relu_max_negative", "max_value -1", R, AIN, max_value=-1.0)
case("relu_max_int", "max_value 6 (int)", R, AIN, max_value=6)
case("relu_slope", "negative_slope 0.1", R, AIN, negative_slope=0.1)
case("relu_slope_negative", "negative_slope -0.1", R, AIN, negative_slope=-0.1)
case("relu_slope_none", "negative_slope None", R, AIN, negative_slope=None)
case("relu_threshold", "threshold 0.5", R, AIN, threshold=0.5)
case("relu_threshold_negative", "threshold -1", R, AIN, threshold=-1.0)
case("relu_threshold_none", "threshold None", R, AIN, threshold=None)
case("relu_threshold_gt_max", "threshold 2 > max_value 1", R, AIN, threshold=2.0, max_value=1.0)

L = "LeakyReLU"
case("leaky_default", "defaults (0.3)", L, AIN)
case("leaky_slope", "negative_slope 0.1", L, AIN, negative_slope=0.1)
case("leaky_slope_negative", "negative_slope -0.5", L, AIN, negative_slope=-0.5)
case("leaky_slope_none", "negative_slope None", L, AIN, negative_slope=None)
case("leaky_slope_zero", "negative_slope 0", L, AIN, negative_slope=0.0)
case("leaky_slope_big", "negative_slope 2", L, AIN, negative_slope=2.0)
case("leaky_alpha", "alpha=0.1 (Keras 2 argument name)", L, AIN, alpha=0.1)

SM = "Softmax"
case("softmax_default", "axis -1", SM, AIN)
case("softmax_axis1", "axis 1", SM, AIN, axis=1)
case("softmax_axis3", "axis 3", SM, AIN, axis=3)
case("softmax_axis0", "axis 0", SM, AIN, axis=0)
case("softmax_axis4", "axis 4 (out of range)", SM, AIN, axis=4)
case("softmax_axis_minus5", "axis -5 (out of range)", SM, AIN, axis=-5)
case("softmax_axis_list", "axis [1,2]", SM, AIN, axis=[1, 2])
case("softmax_axis_float", "axis 1.0", SM, AIN, axis=1.0)

# --------------------------------------------------------------------------
# Dropout / SpatialDropout2D
# --------------------------------------------------------------------------
DR = "Dropout"
case("dropout_half", "rate 0.5", DR, AIN, rate=0.5)
case("dropout_zero", "rate 0", DR, AIN, rate=0.0)
case("dropout_one", "rate 1", DR, AIN, rate=1.0)
case("dropout_gt1", "rate 1.5", DR, AIN, rate=1.5)
case("dropout_negative", "rate -0.1", DR, AIN, rate=-0.1)
case("dropout_int_one", "rate 1 (int)", DR, AIN, rate=1)
case("dropout_string", "rate '0.5'", DR, AIN, rate="0.5")
case("dropout_noise_shape", "noise_shape [None,1,1,2]", DR, AIN, rate=0.5,
     noise_shape=[None, 1, 1, 2])
case("dropout_noise_shape_wrong_rank", "noise_shape [1,2]", DR, AIN, rate=0.5,
     noise_shape=[1, 2])
case("dropout_noise_shape_bad_dim", "noise_shape [None,3,1,2] (3 vs 4)", DR, AIN, rate=0.5,
     noise_shape=[None, 3, 1, 2])
case("dropout_seed", "seed 42", DR, AIN, rate=0.5, seed=42)

SD = "SpatialDropout2D"
case("sdrop_half", "rate 0.5", SD, AIN, rate=0.5)
case("sdrop_gt1", "rate 1.5", SD, AIN, rate=1.5)
case("sdrop_negative", "rate -0.1", SD, AIN, rate=-0.1)
case("sdrop_one", "rate 1", SD, AIN, rate=1.0)
case("sdrop_rank3", "rank-3 input", SD, [N, 4, 2], rate=0.5)
case("sdrop_cf", "channels_first", SD, [N, 2, 4, 4], rate=0.5, data_format="channels_first")
case("sdrop_bad_format", "data_format 'nchw'", SD, AIN, rate=0.5, data_format="nchw")

# --------------------------------------------------------------------------
# Flatten / Dense
# --------------------------------------------------------------------------
F = "Flatten"
case("flatten_rank4", "rank 4", F, [N, 4, 5, 3])
case("flatten_rank2", "rank 2", F, [N, 6])
case("flatten_rank5", "rank 5", F, [N, 2, 3, 4, 5])
case("flatten_cf", "channels_first", F, [N, 3, 4, 5], data_format="channels_first")
case("flatten_unknown_h", "H None", F, [N, N, 5, 3])
case("flatten_channel_none", "channel None", F, [N, 4, 5, N])
case("flatten_rank1", "rank-1 input (batch only)", F, [N])

DE = "Dense"
case("dense_rank2", "units 10 on rank 2", DE, [N, 8], units=10)
case("dense_rank4", "units 10 on rank 4 (last axis)", DE, [N, 4, 5, 3], units=10)
case("dense_rank3", "units 7 on rank 3", DE, [N, 5, 3], units=7)
case("dense_units_zero", "units 0", DE, [N, 8], units=0)
case("dense_units_minus1", "units -1", DE, [N, 8], units=-1)
case("dense_units_float", "units 3.0", DE, [N, 8], units=3.0)
case("dense_units_string", "units '3'", DE, [N, 8], units="3")
case("dense_units_none", "units None", DE, [N, 8], units=None)
case("dense_units_huge", "units 1000000 on 1 input", DE, [N, 1], units=1000000)
case("dense_no_bias", "use_bias False", DE, [N, 8], units=4, use_bias=False)
case("dense_last_none", "last dim None", DE, [N, N], units=4)
case("dense_rank1", "rank-1 input", DE, [N], units=4)
case("dense_act_softmax", "activation softmax", DE, [N, 8], units=4, activation="softmax")
case("dense_act_unknown", "activation 'Softmax'", DE, [N, 8], units=4, activation="Softmax")

# --------------------------------------------------------------------------
# ZeroPadding2D / Cropping2D / UpSampling2D / Rescaling
# --------------------------------------------------------------------------
Z = "ZeroPadding2D"
ZIN = [N, 4, 5, 2]
case("zpad_default", "default (1,1)", Z, ZIN)
case("zpad_int", "padding 2", Z, ZIN, padding=2)
case("zpad_pair", "padding [1,2]", Z, ZIN, padding=[1, 2])
case("zpad_pairs", "padding [[1,2],[3,4]]", Z, ZIN, padding=[[1, 2], [3, 4]])
case("zpad_zero", "padding 0", Z, ZIN, padding=0)
case("zpad_negative", "padding -1", Z, ZIN, padding=-1)
case("zpad_negative_pair", "padding [[-1,2],[0,0]]", Z, ZIN, padding=[[-1, 2], [0, 0]])
case("zpad_one_pair", "padding [[1,2]]", Z, ZIN, padding=[[1, 2]])
case("zpad_three", "padding [1,2,3]", Z, ZIN, padding=[1, 2, 3])
case("zpad_pair_of_three", "padding [[1,2,3],[1,2]]", Z, ZIN, padding=[[1, 2, 3], [1, 2]])
case("zpad_float", "padding 1.5", Z, ZIN, padding=1.5)
case("zpad_cf", "channels_first [[1,2],[3,4]]", Z, [N, 2, 4, 5], padding=[[1, 2], [3, 4]],
     data_format="channels_first")
case("zpad_huge", "padding 100", Z, ZIN, padding=100)
case("zpad_rank3", "rank-3 input", Z, [N, 4, 2], padding=1)
case("zpad_unknown_h", "H None", Z, [N, N, 5, 2], padding=1)

CR = "Cropping2D"
case("crop_default", "default ((0,0),(0,0))", CR, [N, 8, 8, 2])
case("crop_int", "cropping 1", CR, [N, 8, 8, 2], cropping=1)
case("crop_pair", "cropping [1,2]", CR, [N, 8, 8, 2], cropping=[1, 2])
case("crop_pairs", "cropping [[1,2],[0,3]]", CR, [N, 8, 8, 2], cropping=[[1, 2], [0, 3]])
case("crop_all", "cropping 4 on 8 (zero left)", CR, [N, 8, 8, 2], cropping=4)
case("crop_too_much", "cropping 5 on 8", CR, [N, 8, 8, 2], cropping=5)
case("crop_too_much_one_axis", "cropping [[0,0],[5,4]] on 8 wide", CR, [N, 8, 8, 2],
     cropping=[[0, 0], [5, 4]])
case("crop_negative", "cropping -1", CR, [N, 8, 8, 2], cropping=-1)
case("crop_one_pair", "cropping [[1,2]]", CR, [N, 8, 8, 2], cropping=[[1, 2]])
case("crop_three", "cropping [1,2,3]", CR, [N, 8, 8, 2], cropping=[1, 2, 3])
case("crop_cf", "channels_first [[1,0],[2,1]]", CR, [N, 2, 8, 7], cropping=[[1, 0], [2, 1]],
     data_format="channels_first")
case("crop_float", "cropping 1.5", CR, [N, 8, 8, 2], cropping=1.5)
case("crop_rank3", "rank-3 input", CR, [N, 8, 2], cropping=1)
case("crop_unknown_h", "H None cropping 1", CR, [N, N, 8, 2], cropping=1)

U = "UpSampling2D"
UIN = [N, 3, 4, 2]
case("up_default", "size 2 nearest", U, UIN)
case("up_size_tuple", "size [2,3]", U, UIN, size=[2, 3])
case("up_size_zero", "size 0", U, UIN, size=0)
case("up_size_negative", "size -1", U, UIN, size=-1)
case("up_size_float", "size 2.5", U, UIN, size=2.5)
case("up_size_one", "size 1", U, UIN, size=1)
for interp in ["nearest", "bilinear", "bicubic", "area", "lanczos3", "lanczos5", "cubic",
               "NEAREST", "Bilinear"]:
    case("up_interp_%s" % interp,
         "interpolation %r" % interp, U, UIN, size=2, interpolation=interp)
case("up_cf", "channels_first size [2,3]", U, [N, 2, 3, 4], size=[2, 3],
     data_format="channels_first")
case("up_cf_bilinear", "channels_first bilinear", U, [N, 2, 3, 4], size=2,
     interpolation="bilinear", data_format="channels_first")
case("up_rank3", "rank-3 input", U, [N, 3, 2], size=2)
case("up_unknown_hw", "H,W None", U, [N, N, N, 2], size=2)

RS = "Rescaling"
case("rescale_255", "scale 1/255", RS, AIN, scale=1.0 / 255)
case("rescale_offset", "scale 1/127.5 offset -1", RS, AIN, scale=1.0 / 127.5, offset=-1.0)
case("rescale_zero", "scale 0", RS, AIN, scale=0.0)
case("rescale_negative", "scale -2", RS, AIN, scale=-2.0)
case("rescale_int", "scale 2 (int)", RS, AIN, scale=2)
case("rescale_list", "scale [1,2] per channel", RS, AIN, scale=[1.0, 2.0])
case("rescale_string", "scale 'abc'", RS, AIN, scale="abc")
case("rescale_none", "scale None", RS, AIN, scale=None)

RH = "Reshape"
case("reshape_flat", "target (-1,)", RH, AIN, target_shape=(-1,))
case("reshape_known", "(12,) to (3, 4)", RH, [N, 12], target_shape=(3, 4))
case("reshape_infer_last", "(12,) to (2, -1)", RH, [N, 12], target_shape=(2, -1))
case("reshape_infer_mid", "4-D to (2, -1, 3)", RH, AIN, target_shape=(2, -1, 3))
case("reshape_list", "target as a list", RH, [N, 12], target_shape=[4, 3])
case("reshape_size_mismatch", "(12,) to (3, 5)", RH, [N, 12], target_shape=(3, 5))
case("reshape_indivisible", "(12,) to (-1, 7)", RH, [N, 12], target_shape=(-1, 7))
case("reshape_negative", "(-2, 3)", RH, [N, 12], target_shape=(-2, 3))
case("reshape_two_unknown", "(-1, -1)", RH, [N, 12], target_shape=(-1, -1))
case("reshape_zero", "(0, -1)", RH, [N, 12], target_shape=(0, -1))
case("reshape_zero_known", "(0, 3) on 12", RH, [N, 12], target_shape=(0, 3))
case("reshape_unknown_input", "(None, 3) to (-1, 3)", RH, [N, N, 3], target_shape=(-1, 3))
case("reshape_unknown_input_fixed", "(None, 3) to (3, 2)", RH, [N, N, 3], target_shape=(3, 2))
case("reshape_int", "target_shape=12 (not a tuple)", RH, [N, 12], target_shape=12)
case("reshape_float", "target_shape=(3.0, 4)", RH, [N, 12], target_shape=(3.0, 4))

PM = "Permute"
case("permute_channels_first", "(3, 1, 2)", PM, AIN, dims=(3, 1, 2))
case("permute_rows_cols", "(2, 1, 3)", PM, AIN, dims=(2, 1, 3))
case("permute_2d", "(2, 1) on a sequence", PM, [N, 5, 7], dims=(2, 1))
case("permute_identity", "(1, 2, 3)", PM, AIN, dims=[1, 2, 3])
case("permute_zero_based", "(0, 1, 2)", PM, AIN, dims=(0, 1, 2))
case("permute_repeat", "(1, 1, 2)", PM, AIN, dims=(1, 1, 2))
case("permute_gap", "(1, 2, 4)", PM, AIN, dims=(1, 2, 4))
case("permute_short", "(2, 1) on a 4-D input", PM, AIN, dims=(2, 1))
case("permute_long", "(1, 2, 3, 4) on a 4-D input", PM, AIN, dims=(1, 2, 3, 4))
case("permute_unknown_dims", "(2, 1) with unknown axes", PM, [N, N, 4], dims=(2, 1))

NO = "Normalization"
case("norm_default", "adapted state, axis -1", NO, AIN)
case("norm_axis_none", "axis None: one mean", NO, AIN, axis=None)
case("norm_axis_pixels", "axis (1, 2)", NO, AIN, axis=(1, 2))
case("norm_axis_int", "axis 3 as an int", NO, AIN, axis=3)
case("norm_axis_out", "axis 4 (out of range)", NO, AIN, axis=4)
case("norm_axis_batch", "axis 0 (the unknown batch)", NO, AIN, axis=0)
case("norm_unknown_channels", "channels unknown", NO, [N, 4, 4, N])
case("norm_given", "mean and variance given", NO, AIN, mean=[1.0, 2.0], variance=[1.0, 4.0])
case("norm_given_scalar", "scalar mean and variance", NO, AIN, mean=0.5, variance=2.0)
case("norm_mean_only", "mean without variance", NO, AIN, mean=[1.0, 2.0])
case("norm_shape_mismatch", "mean (2,) variance (1,)", NO, AIN, mean=[1.0, 2.0], variance=[1.0])
case("norm_rank", "mean rank 2 for one axis", NO, AIN, mean=[[1.0, 2.0]], variance=[[1.0, 1.0]])
case("norm_invert", "invert", NO, AIN, mean=[1.0, 2.0], variance=[1.0, 4.0], invert=True)

LN = "LayerNormalization"
case("ln_default", "axis -1", LN, AIN)
case("ln_axes", "axis [1, 2, 3]", LN, AIN, axis=[1, 2, 3])
case("ln_axes_mixed", "axis [-1, 1] (sorted as given)", LN, AIN, axis=[-1, 1])
case("ln_axis_out", "axis 4 (out of range)", LN, AIN, axis=4)
case("ln_unknown_channels", "channels unknown", LN, [N, 4, 4, N])
case("ln_no_center_scale", "center and scale off", LN, AIN, center=False, scale=False)
case("ln_rms", "rms_scaling (deprecated)", LN, AIN, rms_scaling=True)
case("ln_axis_string", "axis 'x'", LN, AIN, axis="x")


# --------------------------------------------------------------------------
# Runner
# --------------------------------------------------------------------------

def jsonable(value):
    return json.loads(json.dumps(value))


def entry_of(layer):
    d = keras.saving.serialize_keras_object(layer)
    return {k: d[k] for k in ("module", "class_name", "config", "registered_name")}


def synthesized_entry(cls, kwargs):
    # No clear_session() here: right after a failed constructor this gives the
    # name Keras would hand out next ('conv2d_1' when the failed Conv2D had
    # already taken 'conv2d'), as in the golden files.
    base_kwargs = BASE_KWARGS[cls.__name__]
    base = cls(**base_kwargs)
    entry = entry_of(base)
    for key in base_kwargs:  # a required argument the case leaves out stays out
        if key not in kwargs:
            del entry["config"][key]
    entry["config"].update(kwargs)
    return jsonable(entry)


def shape_list(shape):
    return [None if d is None else int(d) for d in shape]


def n_params(variables):
    return int(sum(int(np.prod(v.shape)) for v in variables))


def clean(e):
    # Keras' traceback_utils wraps the inner message of "Exception encountered
    # when calling X.call()" in ANSI bold (ESC[1m ... ESC[0m); the golden files
    # store messages without these two escape sequences, and so do we.
    return str(e).replace("\x1b[1m", "").replace("\x1b[0m", "")


def exc_fields(e):
    return {
        "exception_type": type(e).__name__,
        "exception_module": type(e).__module__,
        "message": clean(e),
    }


def tuplify(value):
    """JSON lists -> tuples, as one writes them in Python (the golden files
    were made that way, so messages echo e.g. `kernel_size=(0, 3)`)."""
    if isinstance(value, list):
        return tuple(tuplify(v) for v in value)
    if isinstance(value, dict):
        return {k: tuplify(v) for k, v in value.items()}
    return value


def run_case(spec):
    cls = getattr(keras.layers, spec["class_name"])
    kwargs = jsonable(spec["kwargs"])
    input_shape = spec["input_shape"]
    rec = {
        "id": spec["id"],
        "description": spec["description"],
        "class_name": spec["class_name"],
        "input_shape": input_shape,
        "kwargs": kwargs,
    }
    caught = []
    with warnings.catch_warnings(record=True) as wlist:
        warnings.simplefilter("always")
        try:
            _run_stages(cls, kwargs, input_shape, rec)
        except Exception as e:  # defensive: never stop the run
            rec.setdefault("layer", None)
            rec["stage"] = "oracle_error"
            rec.update(exc_fields(e))
        try:
            _sequential_crosscheck(cls, kwargs, input_shape, rec)
        except Exception as e:
            rec["sequential_crosscheck_error"] = "%s: %s" % (type(e).__name__, clean(e))
        for w in wlist:
            if "keras" in (w.filename or ""):
                msg = "%s: %s" % (w.category.__name__, clean(w.message))
                if msg not in caught:
                    caught.append(msg)
    if caught:
        rec["warnings"] = caught
    return rec


def _from_config_check(cls, err, rec):
    """Loading the layer entry (Layer.from_config, as config.json loading does)
    raises TypeError("Error when deserializing class 'X' using config={...}.
    \n\nException encountered: <inner>").  Record <inner> when it is not the
    constructor's message (e.g. lists from JSON print as [0, 3], not (0, 3))."""
    keras.backend.clear_session()
    try:
        cls.from_config(rec["layer"]["config"])
    except Exception as e2:
        text = clean(e2)
        marker = "\n\nException encountered: "
        if (type(e2) is TypeError and text.startswith(
                "Error when deserializing class '%s' using config=" % cls.__name__)
                and marker in text):
            inner = text.split(marker, 1)[1]
            if inner != err["message"]:
                rec["from_config_message"] = inner
        else:
            rec["from_config_message"] = "%s: %s" % (type(e2).__name__, text)
        return
    rec["from_config_message"] = "(from_config accepts this config)"


def _run_stages(cls, kwargs, input_shape, rec):
    # construct
    keras.backend.clear_session()
    try:
        layer = cls(**tuplify(kwargs))
    except Exception as e:
        err = exc_fields(e)
        rec["layer"] = synthesized_entry(cls, kwargs)
        rec["stage"] = "construct"
        rec.update(err)
        _from_config_check(cls, err, rec)
        return

    try:
        rec["layer"] = jsonable(entry_of(layer))
    except Exception as e:
        rec["layer"] = synthesized_entry(cls, kwargs)
        rec["serialize_error"] = "%s: %s" % (type(e).__name__, e)

    # build: a symbolic call on keras.Input, outside any model.  This is what
    # Sequential([keras.Input(batch_shape=...), layer]) does, except that
    # Sequential puts its name in variable paths ('sequential/batch_normalization/
    # gamma'); the golden files have no such prefix.  The Sequential result is
    # cross-checked separately (sequential_message).
    try:
        out = layer(keras.Input(batch_shape=tuple(input_shape)))
    except Exception as e:
        rec["stage"] = "build"
        rec.update(exc_fields(e))
        return
    symbolic = shape_list(out.shape)
    params = {
        "params": int(layer.count_params()),
        "trainable_params": n_params(layer.trainable_weights),
        "non_trainable_params": n_params(layer.non_trainable_weights),
    }

    # eager call on zeros, batch 1 (or the fixed batch size)
    eager_in = [1 if input_shape[0] is None else input_shape[0]] + [
        EAGER_FILL if d is None else d for d in input_shape[1:]]
    try:
        eager = shape_list(layer(np.zeros(eager_in, dtype="float32")).shape)
    except Exception as e:
        rec["stage"] = "call"
        rec.update(exc_fields(e))
        rec["symbolic_output_shape"] = symbolic
        if eager_in != [1] + input_shape[1:]:
            rec["eager_input_shape"] = eager_in
        rec.update(params)
        return
    rec["symbolic_output_shape"] = symbolic
    rec["eager_output_shape"] = eager
    if eager_in != [1] + input_shape[1:]:
        rec["eager_input_shape"] = eager_in
    rec["stage"] = None
    rec.update(params)


def _sequential_crosscheck(cls, kwargs, input_shape, rec):
    """Redo the build with Sequential([keras.Input(batch_shape), layer]); record
    what differs from the symbolic call (sequential_message /
    sequential_output_shape)."""
    if rec.get("stage") in ("construct", "oracle_error"):
        return
    keras.backend.clear_session()
    layer = cls(**tuplify(kwargs))
    try:
        model = keras.Sequential([keras.Input(batch_shape=tuple(input_shape)), layer])
    except Exception as e:
        if rec["stage"] != "build":
            rec["sequential_message"] = "%s: %s" % (type(e).__name__, clean(e))
        elif clean(e) != rec["message"] or type(e).__name__ != rec["exception_type"]:
            rec["sequential_message"] = clean(e)
        return
    if rec["stage"] == "build":
        rec["sequential_message"] = "(Sequential builds without error)"
    elif shape_list(model.output_shape) != rec["symbolic_output_shape"]:
        rec["sequential_output_shape"] = shape_list(model.output_shape)


def main(argv):
    if len(argv) != 2:
        print("usage: python scripts/keras_oracle.py OUT_DIR", file=sys.stderr)
        return 2
    out_dir = argv[1]
    os.makedirs(out_dir, exist_ok=True)
    keras.config.set_image_data_format("channels_last")
    rejected, accepted = [], []
    for spec in CASES:
        rec = run_case(spec)
        (accepted if rec["stage"] is None else rejected).append(rec)
    for name, recs in [("rejected.json", rejected), ("accepted.json", accepted)]:
        with open(os.path.join(out_dir, name), "w", encoding="utf-8") as f:
            # one record per line: small and diff-friendly
            f.write("[\n")
            f.write(",\n".join(json.dumps(r, ensure_ascii=False) for r in recs))
            f.write("\n]\n")
    import tensorflow as tf

    print(
        "keras %s, backend %s, tensorflow %s, numpy %s: %d accepted, %d rejected -> %s"
        % (keras.__version__, keras.backend.backend(), tf.__version__, np.__version__,
           len(accepted), len(rejected), out_dir)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
