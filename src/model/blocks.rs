//! Blocks: the subgraphs CNNs are made of — ResNet's basic, bottleneck and
//! pre-activation blocks, MobileNetV2's inverted residual, squeeze-and-excitation, the
//! Inception module, DenseNet's dense block and transition, a U-Net — each with its own
//! arguments, expanded into plain Keras layers named the way `keras.applications` names
//! them (`conv2_block1_1_conv`, `block_1_expand_BN`, `mixed0`, ...). A block is inserted
//! as a unit after one layer ([`Network::insert_block`]); afterwards its layers are
//! ordinary layers (their common name prefix groups them on the canvas).
//!
//! The layer recipes follow `keras/src/applications/{resnet,resnet_v2,mobilenet_v2,
//! efficientnet,inception_v3,densenet}.py`; the U-Net, which `keras.applications` does
//! not have, follows the classic encoder/decoder with `Conv2DTranspose` and skip
//! concatenations.

use super::network::{GraphError, Layer, Network};
use crate::keras::args::{AmountForm, Amounts, Arg, ArgMut, Axes, Visitor};
use crate::keras::geometry::Padding;
use crate::keras::shape::{Pair, Shape};
use crate::layers::{InputLayer, LayerKind};

/// The kinds of block the palette offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockKind {
    /// ResNet18/34's two 3×3 convolutions (`resnet.py` names).
    Basic,
    /// ResNet50's 1×1–3×3–1×1 `residual_block_v1`.
    Bottleneck,
    /// ResNet50V2's `residual_block_v2`.
    PreActivation,
    /// MobileNetV2's `_inverted_res_block`.
    InvertedResidual,
    /// EfficientNet's squeeze-and-excitation.
    SqueezeExcite,
    /// InceptionV3's `mixed0`–`mixed2` module.
    Inception,
    /// DenseNet's `dense_block`.
    DenseBlock,
    /// DenseNet's `transition_block`.
    Transition,
    /// An encoder/decoder with skip connections.
    UNet,
}

impl BlockKind {
    pub const ALL: [BlockKind; 9] = [
        BlockKind::Basic,
        BlockKind::Bottleneck,
        BlockKind::PreActivation,
        BlockKind::InvertedResidual,
        BlockKind::SqueezeExcite,
        BlockKind::Inception,
        BlockKind::DenseBlock,
        BlockKind::Transition,
        BlockKind::UNet,
    ];

    /// Its name in the palette.
    pub fn label(self) -> &'static str {
        match self {
            BlockKind::Basic => "Residual basic block",
            BlockKind::Bottleneck => "Bottleneck block",
            BlockKind::PreActivation => "Pre-activation block",
            BlockKind::InvertedResidual => "Inverted residual (MobileNetV2)",
            BlockKind::SqueezeExcite => "Squeeze-and-excitation",
            BlockKind::Inception => "Inception module",
            BlockKind::DenseBlock => "Dense block (DenseNet)",
            BlockKind::Transition => "Transition (DenseNet)",
            BlockKind::UNet => "U-Net",
        }
    }

    /// What it is, for the palette's tooltip.
    pub fn tip(self) -> &'static str {
        match self {
            BlockKind::Basic => {
                "Two 3×3 Conv2D + BatchNormalization, added to the block's input (a 1×1 \
                 projection when the stride or width changes), then ReLU — ResNet18/34."
            }
            BlockKind::Bottleneck => {
                "1×1, 3×3, 1×1 (4 × filters) convolutions added to the input; a 1×1 \
                 projection shortcut when the stride or width changes — ResNet50's \
                 residual_block_v1."
            }
            BlockKind::PreActivation => {
                "BatchNormalization + ReLU before the convolutions, the shortcut added \
                 without a final activation — ResNet50V2's residual_block_v2."
            }
            BlockKind::InvertedResidual => {
                "1×1 expansion, 3×3 depthwise, 1×1 linear projection, added to the input \
                 when the shapes match — MobileNetV2."
            }
            BlockKind::SqueezeExcite => {
                "Global average pool, two 1×1 convolutions and a sigmoid that rescale the \
                 channels — EfficientNet's se_ layers."
            }
            BlockKind::Inception => {
                "1×1, 5×5, double 3×3 and pooling branches concatenated — InceptionV3's \
                 mixed0."
            }
            BlockKind::DenseBlock => {
                "Conv blocks whose outputs are concatenated onto their input, each adding \
                 growth_rate channels — DenseNet."
            }
            BlockKind::Transition => {
                "BatchNormalization, ReLU, 1×1 Conv2D (channels × reduction) and 2×2 \
                 average pooling — DenseNet."
            }
            BlockKind::UNet => {
                "Encoder levels (two 3×3 convolutions, max pooling), a bottom, and decoder \
                 levels (Conv2DTranspose, concatenation with the skip, two convolutions)."
            }
        }
    }

    /// The name prefix keras.applications would give the first such block.
    fn default_name(self) -> &'static str {
        match self {
            BlockKind::Basic | BlockKind::Bottleneck | BlockKind::PreActivation => "conv2_block1",
            BlockKind::InvertedResidual => "block_1",
            BlockKind::SqueezeExcite => "block1a",
            BlockKind::Inception => "mixed0",
            BlockKind::DenseBlock => "conv2",
            BlockKind::Transition => "pool2",
            BlockKind::UNet => "unet",
        }
    }

    fn default_args(self) -> Vec<BlockArg> {
        let int = |key, value, tip| BlockArg {
            key,
            tip,
            value,
            integer: true,
        };
        let float = |key, value, tip| BlockArg {
            key,
            tip,
            value,
            integer: false,
        };
        const FILTERS: &str = "Filters of the block's convolutions.";
        const STRIDE: &str = "Stride of the block's strided convolution (2 halves the size).";
        match self {
            BlockKind::Basic => vec![int("filters", 64.0, FILTERS), int("stride", 1.0, STRIDE)],
            BlockKind::Bottleneck | BlockKind::PreActivation => vec![
                int(
                    "filters",
                    64.0,
                    "Filters of the 1×1 and 3×3 convolutions; the block outputs 4 × filters.",
                ),
                int("stride", 1.0, STRIDE),
            ],
            BlockKind::InvertedResidual => vec![
                int("filters", 24.0, "Channels of the linear 1×1 projection."),
                int("stride", 1.0, STRIDE),
                int(
                    "expansion",
                    6.0,
                    "The 1×1 expansion widens the input this many times.",
                ),
            ],
            BlockKind::SqueezeExcite => vec![float(
                "se_ratio",
                0.25,
                "The squeezed width as a fraction of the channels.",
            )],
            BlockKind::Inception => vec![int(
                "pool_filters",
                32.0,
                "Filters of the pooling branch's 1×1 convolution (mixed0: 32, mixed1–2: 64).",
            )],
            BlockKind::DenseBlock => vec![
                int(
                    "blocks",
                    6.0,
                    "How many conv blocks (DenseNet121's first: 6).",
                ),
                int(
                    "growth_rate",
                    32.0,
                    "Channels each conv block adds to the concatenation.",
                ),
            ],
            BlockKind::Transition => vec![float(
                "reduction",
                0.5,
                "The 1×1 convolution keeps this fraction of the channels.",
            )],
            BlockKind::UNet => vec![
                int("depth", 2.0, "How many times the encoder halves the size."),
                int(
                    "filters",
                    16.0,
                    "Filters of the first level (doubled per level).",
                ),
            ],
        }
    }
}

/// One argument of a block.
#[derive(Clone, Debug, PartialEq)]
pub struct BlockArg {
    pub key: &'static str,
    pub tip: &'static str,
    pub value: f64,
    /// A whole number (shown and used without decimals).
    pub integer: bool,
}

/// A block to insert: its kind, name prefix and arguments.
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    pub kind: BlockKind,
    pub name: String,
    pub args: Vec<BlockArg>,
}

/// Where a block's layer takes an input from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Src {
    /// The layer the block is inserted after.
    Outside,
    /// The block's own `k`-th layer.
    Inner(usize),
}

/// A block expanded into layers, in order, each with its inputs, and the layer whose
/// output is the block's.
#[derive(Clone, Debug)]
pub struct Expansion {
    pub layers: Vec<(Layer, Vec<Src>)>,
    pub output: Src,
}

impl Block {
    /// A block of `kind` with keras.applications' defaults, named so that none of its
    /// layers' names is taken in `net` (`conv2_block1`, then `conv2_block2`, ...).
    pub fn new(kind: BlockKind, net: &Network, input: &Shape) -> Block {
        let mut b = Block {
            kind,
            name: kind.default_name().into(),
            args: kind.default_args(),
        };
        b.name = b.free_name(net, input);
        b
    }

    /// The argument `key`'s value.
    pub fn arg(&self, key: &str) -> f64 {
        self.args
            .iter()
            .find(|a| a.key == key)
            .map_or(0.0, |a| a.value)
    }

    fn int(&self, key: &str) -> i64 {
        self.arg(key).round() as i64
    }

    /// The first name like this block's (its trailing number counted up) whose layers
    /// are all free in `net`.
    pub fn free_name(&self, net: &Network, input: &Shape) -> String {
        let digits = self.name.len()
            - self
                .name
                .trim_end_matches(|c: char| c.is_ascii_digit())
                .len();
        let (stem, first) = self.name.split_at(self.name.len() - digits);
        let first: u64 = first.parse().unwrap_or(0);
        let name_at = |k: u64| {
            if digits == 0 && k == 0 {
                stem.to_string()
            } else if digits == 0 {
                format!("{stem}_{k}")
            } else {
                format!("{stem}{k}")
            }
        };
        let mut probe = self.clone();
        for k in first..first + 10_000 {
            probe.name = name_at(k);
            match probe.expand(net, input) {
                Ok(e) if e.layers.iter().all(|(l, _)| net.find(&l.name).is_none()) => {
                    return probe.name;
                }
                Ok(_) => {}
                Err(_) => return self.name.clone(),
            }
        }
        self.name.clone()
    }

    /// The block's layers on an input of shape `input` (batch axis first). Refused
    /// when the block needs the input's channels or size and they are unknown, or an
    /// argument is out of range.
    pub fn expand(&self, net: &Network, input: &Shape) -> Result<Expansion, String> {
        for a in &self.args {
            if a.value.is_nan() || a.value <= 0.0 || (a.integer && a.value.fract() != 0.0) {
                return Err(format!(
                    "The block's {} must be a positive {}: got {}.",
                    a.key,
                    if a.integer { "integer" } else { "number" },
                    a.value
                ));
            }
            if a.value > 1e6 {
                return Err(format!(
                    "The block's {} is too large: {} (at most 1,000,000).",
                    a.key, a.value
                ));
            }
        }
        let channels = input.last().copied().flatten();
        let need_channels = || {
            channels.ok_or_else(|| {
                "The block needs its input's channel count: the layer it follows has no \
                 known output shape."
                    .to_string()
            })
        };
        let mut b = Builder {
            net,
            layers: Vec::new(),
        };
        let p = &self.name;
        let x = Src::Outside;
        let output = match self.kind {
            BlockKind::Basic => {
                let (f, s) = (self.int("filters"), self.int("stride"));
                let shortcut = if s != 1 || need_channels()? != f {
                    let c = b.conv(&format!("{p}_0_conv"), f, 1, s, "valid", x)?;
                    b.bn(&format!("{p}_0_bn"), 1.001e-5, c)?
                } else {
                    x
                };
                let y = b.conv(&format!("{p}_1_conv"), f, 3, s, "same", x)?;
                let y = b.bn(&format!("{p}_1_bn"), 1.001e-5, y)?;
                let y = b.act(&format!("{p}_1_relu"), "relu", y)?;
                let y = b.conv(&format!("{p}_2_conv"), f, 3, 1, "same", y)?;
                let y = b.bn(&format!("{p}_2_bn"), 1.001e-5, y)?;
                let y = b.merge("Add", &format!("{p}_add"), &[shortcut, y])?;
                b.act(&format!("{p}_out"), "relu", y)?
            }
            BlockKind::Bottleneck => {
                let (f, s) = (self.int("filters"), self.int("stride"));
                let shortcut = if s != 1 || need_channels()? != 4 * f {
                    let c = b.conv(&format!("{p}_0_conv"), 4 * f, 1, s, "valid", x)?;
                    b.bn(&format!("{p}_0_bn"), 1.001e-5, c)?
                } else {
                    x
                };
                let y = b.conv(&format!("{p}_1_conv"), f, 1, s, "valid", x)?;
                let y = b.bn(&format!("{p}_1_bn"), 1.001e-5, y)?;
                let y = b.act(&format!("{p}_1_relu"), "relu", y)?;
                let y = b.conv(&format!("{p}_2_conv"), f, 3, 1, "same", y)?;
                let y = b.bn(&format!("{p}_2_bn"), 1.001e-5, y)?;
                let y = b.act(&format!("{p}_2_relu"), "relu", y)?;
                let y = b.conv(&format!("{p}_3_conv"), 4 * f, 1, 1, "valid", y)?;
                let y = b.bn(&format!("{p}_3_bn"), 1.001e-5, y)?;
                let y = b.merge("Add", &format!("{p}_add"), &[shortcut, y])?;
                b.act(&format!("{p}_out"), "relu", y)?
            }
            BlockKind::PreActivation => {
                let (f, s) = (self.int("filters"), self.int("stride"));
                let pre = b.bn(&format!("{p}_preact_bn"), 1.001e-5, x)?;
                let pre = b.act(&format!("{p}_preact_relu"), "relu", pre)?;
                let shortcut = if need_channels()? != 4 * f {
                    b.conv(&format!("{p}_0_conv"), 4 * f, 1, s, "valid", pre)?
                } else if s > 1 {
                    let name = b.auto_name("MaxPooling2D");
                    b.layer(
                        "MaxPooling2D",
                        &name,
                        &[("pool_size", V::P(1)), ("strides", V::P(s))],
                        &[x],
                    )?
                } else {
                    x
                };
                let y = b.conv(&format!("{p}_1_conv"), f, 1, 1, "valid", pre)?;
                b.set(y, "use_bias", V::B(false))?;
                let y = b.bn(&format!("{p}_1_bn"), 1.001e-5, y)?;
                let y = b.act(&format!("{p}_1_relu"), "relu", y)?;
                let y = b.layer(
                    "ZeroPadding2D",
                    &format!("{p}_2_pad"),
                    &[("padding", V::Pads([[1, 1], [1, 1]]))],
                    &[y],
                )?;
                let y = b.conv(&format!("{p}_2_conv"), f, 3, s, "valid", y)?;
                b.set(y, "use_bias", V::B(false))?;
                let y = b.bn(&format!("{p}_2_bn"), 1.001e-5, y)?;
                let y = b.act(&format!("{p}_2_relu"), "relu", y)?;
                let y = b.conv(&format!("{p}_3_conv"), 4 * f, 1, 1, "valid", y)?;
                b.merge("Add", &format!("{p}_out"), &[shortcut, y])?
            }
            BlockKind::InvertedResidual => {
                let (f, s, e) = (
                    self.int("filters"),
                    self.int("stride"),
                    self.int("expansion"),
                );
                let c = need_channels()?;
                let p = format!("{p}_");
                let y = b.conv(&format!("{p}expand"), e * c, 1, 1, "same", x)?;
                b.set(y, "use_bias", V::B(false))?;
                let y = b.bn_momentum(&format!("{p}expand_BN"), y)?;
                let y = b.relu6(&format!("{p}expand_relu"), y)?;
                let y = if s == 2 {
                    // imagenet_utils.correct_pad(x, 3): one more row/column at the
                    // bottom/right when the size is even.
                    let pad = |d: Option<i64>| {
                        d.map_or(
                            Err("The block needs its input's size for the stride-2 padding."
                                .to_string()),
                            |d| Ok([1 - (1 - d % 2), 1]),
                        )
                    };
                    let (h, w) = (
                        input.get(1).copied().flatten(),
                        input.get(2).copied().flatten(),
                    );
                    b.layer(
                        "ZeroPadding2D",
                        &format!("{p}pad"),
                        &[("padding", V::Pads([pad(h)?, pad(w)?]))],
                        &[y],
                    )?
                } else {
                    y
                };
                let y = b.layer(
                    "DepthwiseConv2D",
                    &format!("{p}depthwise"),
                    &[
                        ("kernel_size", V::P(3)),
                        ("strides", V::P(s)),
                        ("use_bias", V::B(false)),
                        ("padding", V::S(if s == 1 { "same" } else { "valid" })),
                    ],
                    &[y],
                )?;
                let y = b.bn_momentum(&format!("{p}depthwise_BN"), y)?;
                let y = b.relu6(&format!("{p}depthwise_relu"), y)?;
                let y = b.conv(&format!("{p}project"), f, 1, 1, "same", y)?;
                b.set(y, "use_bias", V::B(false))?;
                let y = b.bn_momentum(&format!("{p}project_BN"), y)?;
                if c == f && s == 1 {
                    b.merge("Add", &format!("{p}add"), &[x, y])?
                } else {
                    y
                }
            }
            BlockKind::SqueezeExcite => {
                let c = need_channels()?;
                let reduced = ((c as f64 * self.arg("se_ratio")) as i64).max(1);
                let se = b.layer(
                    "GlobalAveragePooling2D",
                    &format!("{p}_se_squeeze"),
                    &[],
                    &[x],
                )?;
                let se = b.layer(
                    "Reshape",
                    &format!("{p}_se_reshape"),
                    &[("target_shape", V::Ints(vec![1, 1, c]))],
                    &[se],
                )?;
                let se = b.layer(
                    "Conv2D",
                    &format!("{p}_se_reduce"),
                    &[
                        ("filters", V::I(reduced)),
                        ("kernel_size", V::P(1)),
                        ("padding", V::S("same")),
                        ("activation", V::S("swish")),
                    ],
                    &[se],
                )?;
                let se = b.layer(
                    "Conv2D",
                    &format!("{p}_se_expand"),
                    &[
                        ("filters", V::I(c)),
                        ("kernel_size", V::P(1)),
                        ("padding", V::S("same")),
                        ("activation", V::S("sigmoid")),
                    ],
                    &[se],
                )?;
                b.merge("Multiply", &format!("{p}_se_excite"), &[x, se])?
            }
            BlockKind::Inception => {
                let pool = self.int("pool_filters");
                let b1 = b.conv_bn(x, 64, 1)?;
                let b5 = b.conv_bn(x, 48, 1)?;
                let b5 = b.conv_bn(b5, 64, 5)?;
                let b3 = b.conv_bn(x, 64, 1)?;
                let b3 = b.conv_bn(b3, 96, 3)?;
                let b3 = b.conv_bn(b3, 96, 3)?;
                let name = b.auto_name("AveragePooling2D");
                let bp = b.layer(
                    "AveragePooling2D",
                    &name,
                    &[
                        ("pool_size", V::P(3)),
                        ("strides", V::P(1)),
                        ("padding", V::S("same")),
                    ],
                    &[x],
                )?;
                let bp = b.conv_bn(bp, pool, 1)?;
                b.concat(p, &[b1, b5, b3, bp])?
            }
            BlockKind::DenseBlock => {
                let g = self.int("growth_rate");
                let mut x = x;
                for i in 1..=self.int("blocks") {
                    let q = format!("{p}_block{i}");
                    let y = b.bn(&format!("{q}_0_bn"), 1.001e-5, x)?;
                    let y = b.act(&format!("{q}_0_relu"), "relu", y)?;
                    let y = b.conv(&format!("{q}_1_conv"), 4 * g, 1, 1, "valid", y)?;
                    b.set(y, "use_bias", V::B(false))?;
                    let y = b.bn(&format!("{q}_1_bn"), 1.001e-5, y)?;
                    let y = b.act(&format!("{q}_1_relu"), "relu", y)?;
                    let y = b.conv(&format!("{q}_2_conv"), g, 3, 1, "same", y)?;
                    b.set(y, "use_bias", V::B(false))?;
                    x = b.concat(&format!("{q}_concat"), &[x, y])?;
                }
                x
            }
            BlockKind::Transition => {
                let c = need_channels()?;
                let y = b.bn(&format!("{p}_bn"), 1.001e-5, x)?;
                let y = b.act(&format!("{p}_relu"), "relu", y)?;
                let f = (c as f64 * self.arg("reduction")) as i64;
                let y = b.conv(&format!("{p}_conv"), f, 1, 1, "valid", y)?;
                b.set(y, "use_bias", V::B(false))?;
                b.layer(
                    "AveragePooling2D",
                    &format!("{p}_pool"),
                    &[("pool_size", V::P(2)), ("strides", V::P(2))],
                    &[y],
                )?
            }
            BlockKind::UNet => {
                let (depth, f0) = (self.int("depth"), self.int("filters"));
                if depth > 8 {
                    return Err(format!("A U-Net deeper than 8 levels: got depth {depth}."));
                }
                let two = |b: &mut Builder, q: &str, f: i64, y: Src| -> Result<Src, String> {
                    let y = b.conv(&format!("{q}_conv1"), f, 3, 1, "same", y)?;
                    b.set(y, "activation", V::S("relu"))?;
                    let y = b.conv(&format!("{q}_conv2"), f, 3, 1, "same", y)?;
                    b.set(y, "activation", V::S("relu"))?;
                    Ok(y)
                };
                let mut skips = Vec::new();
                let mut y = x;
                for k in 1..=depth {
                    let q = format!("{p}_enc{k}");
                    let s = two(&mut b, &q, f0 << (k - 1), y)?;
                    skips.push(s);
                    y = b.layer(
                        "MaxPooling2D",
                        &format!("{q}_pool"),
                        &[("pool_size", V::P(2))],
                        &[s],
                    )?;
                }
                y = two(&mut b, &format!("{p}_bottom"), f0 << depth, y)?;
                for k in (1..=depth).rev() {
                    let q = format!("{p}_dec{k}");
                    let f = f0 << (k - 1);
                    let up = b.layer(
                        "Conv2DTranspose",
                        &format!("{q}_up"),
                        &[
                            ("filters", V::I(f)),
                            ("kernel_size", V::P(2)),
                            ("strides", V::P(2)),
                            ("padding", V::S("same")),
                        ],
                        &[y],
                    )?;
                    let skip = skips[k as usize - 1];
                    let cat = b.concat(&format!("{q}_concat"), &[up, skip])?;
                    y = two(&mut b, &q, f, cat)?;
                }
                y
            }
        };
        Ok(Expansion {
            layers: b.layers,
            output,
        })
    }
}

/// What a block makes on an input: how many layers, its output shape (batch axis
/// first), its parameters, or the first of its layers Keras refuses and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Preview {
    pub layers: usize,
    pub output: Option<Shape>,
    pub params: i64,
    pub error: Option<String>,
}

impl Block {
    /// The block expanded and analysed on its own, on an input of shape `input`.
    pub fn preview(&self, net: &Network, input: &Shape) -> Result<Preview, String> {
        let e = self.expand(net, input)?;
        let layers = e.layers.len();
        let mut probe = Network::empty("probe", true);
        probe.push(Layer::of(
            LayerKind::Input(InputLayer {
                batch_shape: input.clone(),
                dtype: "float32".into(),
            }),
            "probe_input",
        ));
        probe.insert_block(0, e).map_err(|e| e.to_string())?;
        let a = probe.analyze();
        let error = probe.layers().iter().zip(&a.layers).find_map(|(l, r)| {
            r.error
                .as_ref()
                .map(|e| format!("{}: {}", l.name, e.message))
        });
        Ok(Preview {
            layers,
            output: a.layers.last().and_then(|r| r.output_shape.clone()),
            params: a.layers.iter().skip(1).map(|r| r.params()).sum(),
            error,
        })
    }
}

/// A value to set an argument to.
enum V {
    I(i64),
    F(f64),
    B(bool),
    S(&'static str),
    /// A square pair.
    P(i64),
    Pads([[i64; 2]; 2]),
    Ints(Vec<i64>),
}

/// Sets the argument `key` of a layer's kind to `v` (through the kind's own argument
/// list, as the inspector does).
struct Set<'a> {
    key: &'a str,
    v: &'a V,
    done: bool,
}

impl Visitor for Set<'_> {
    fn arg(&mut self, arg: &Arg, value: ArgMut<'_>) {
        if arg.key != self.key {
            return;
        }
        self.done = match (value, self.v) {
            (ArgMut::Int(x) | ArgMut::Axis(x), V::I(i)) => {
                *x = *i;
                true
            }
            (ArgMut::Axes(x), V::I(i)) => {
                *x = Axes::one(*i);
                true
            }
            (ArgMut::Float(x) | ArgMut::FloatOrNone(x), V::F(f)) => {
                *x = *f;
                true
            }
            (ArgMut::OptFloat(x), V::F(f)) => {
                *x = Some(*f);
                true
            }
            (ArgMut::Bool(x), V::B(b)) => {
                *x = *b;
                true
            }
            (ArgMut::Text(x, _) | ArgMut::LowerText(x, _) | ArgMut::Activation(x), V::S(s)) => {
                *x = (*s).into();
                true
            }
            (ArgMut::Padding(x), V::S(s)) => Padding::parse(s).map(|p| *x = p).is_some(),
            (ArgMut::Pair(x), V::P(k)) => {
                *x = Pair::square(*k);
                true
            }
            (ArgMut::PairOr { value, .. }, V::P(k)) => {
                *value = Some(Pair::square(*k));
                true
            }
            (ArgMut::Amounts(x), V::Pads(v)) => {
                *x = Amounts {
                    v: *v,
                    form: AmountForm::Full,
                };
                true
            }
            (ArgMut::Ints(x), V::Ints(v)) => {
                x.clone_from(v);
                true
            }
            _ => false,
        };
    }
}

/// Collects a block's layers.
struct Builder<'a> {
    net: &'a Network,
    layers: Vec<(Layer, Vec<Src>)>,
}

impl Builder<'_> {
    fn layer(
        &mut self,
        class: &str,
        name: &str,
        args: &[(&str, V)],
        inputs: &[Src],
    ) -> Result<Src, String> {
        let mut l = Layer::new(class, name).ok_or_else(|| format!("no layer class {class}"))?;
        for (key, v) in args {
            set(&mut l, key, v)?;
        }
        self.layers.push((l, inputs.to_vec()));
        Ok(Src::Inner(self.layers.len() - 1))
    }

    /// Sets one more argument of a layer already added.
    fn set(&mut self, at: Src, key: &str, v: V) -> Result<(), String> {
        match at {
            Src::Inner(k) => set(&mut self.layers[k].0, key, &v),
            Src::Outside => Err("cannot set an argument of the block's input".into()),
        }
    }

    /// Keras's automatic name for an unnamed layer: free in the network and the block.
    fn auto_name(&self, class: &str) -> String {
        let taken =
            |n: &str| self.net.find(n).is_some() || self.layers.iter().any(|(l, _)| l.name == n);
        let base = crate::keras::objects::to_snake_case(class);
        if !taken(&base) {
            return base;
        }
        (1..)
            .map(|k| format!("{base}_{k}"))
            .find(|n| !taken(n))
            .unwrap_or(base)
    }

    fn conv(
        &mut self,
        name: &str,
        filters: i64,
        kernel: i64,
        stride: i64,
        padding: &'static str,
        x: Src,
    ) -> Result<Src, String> {
        self.layer(
            "Conv2D",
            name,
            &[
                ("filters", V::I(filters)),
                ("kernel_size", V::P(kernel)),
                ("strides", V::P(stride)),
                ("padding", V::S(padding)),
            ],
            &[x],
        )
    }

    fn bn(&mut self, name: &str, epsilon: f64, x: Src) -> Result<Src, String> {
        self.layer(
            "BatchNormalization",
            name,
            &[("axis", V::I(3)), ("epsilon", V::F(epsilon))],
            &[x],
        )
    }

    /// MobileNetV2's BatchNormalization.
    fn bn_momentum(&mut self, name: &str, x: Src) -> Result<Src, String> {
        let y = self.bn(name, 1e-3, x)?;
        self.set(y, "momentum", V::F(0.999))?;
        Ok(y)
    }

    fn act(&mut self, name: &str, activation: &'static str, x: Src) -> Result<Src, String> {
        self.layer(
            "Activation",
            name,
            &[("activation", V::S(activation))],
            &[x],
        )
    }

    fn relu6(&mut self, name: &str, x: Src) -> Result<Src, String> {
        self.layer("ReLU", name, &[("max_value", V::F(6.0))], &[x])
    }

    fn merge(&mut self, class: &str, name: &str, inputs: &[Src]) -> Result<Src, String> {
        self.layer(class, name, &[], inputs)
    }

    fn concat(&mut self, name: &str, inputs: &[Src]) -> Result<Src, String> {
        self.layer("Concatenate", name, &[("axis", V::I(3))], inputs)
    }

    /// InceptionV3's `conv2d_bn` with automatic names: Conv2D without bias, 'same',
    /// BatchNormalization without scale, ReLU.
    fn conv_bn(&mut self, x: Src, filters: i64, kernel: i64) -> Result<Src, String> {
        let name = self.auto_name("Conv2D");
        let y = self.conv(&name, filters, kernel, 1, "same", x)?;
        self.set(y, "use_bias", V::B(false))?;
        let name = self.auto_name("BatchNormalization");
        let y = self.layer(
            "BatchNormalization",
            &name,
            &[("axis", V::I(3)), ("scale", V::B(false))],
            &[y],
        )?;
        let name = self.auto_name("Activation");
        self.act(&name, "relu", y)
    }
}

fn set(l: &mut Layer, key: &str, v: &V) -> Result<(), String> {
    let mut s = Set {
        key,
        v,
        done: false,
    };
    l.kind.spec_mut().args(&mut s);
    if s.done {
        Ok(())
    } else {
        Err(format!(
            "{} has no argument {key} of that type",
            l.class_name()
        ))
    }
}

impl Expansion {
    /// The layers at `picked` (positions) as a block to paste: their arguments and the
    /// wiring among them; an input from outside the set becomes the paste point. Its
    /// output is the last picked layer. `None` when nothing but input layers is picked.
    pub fn copy_of(net: &Network, picked: &[usize]) -> Option<Expansion> {
        let mut picked: Vec<usize> = picked
            .iter()
            .copied()
            .filter(|&i| net.layers().get(i).is_some_and(|l| !l.kind.is_input()))
            .collect();
        picked.sort_unstable();
        picked.dedup();
        let at = |j: usize| picked.iter().position(|&p| p == j);
        let layers: Vec<(Layer, Vec<Src>)> = picked
            .iter()
            .map(|&i| {
                let ins = net
                    .inputs_of(i)
                    .into_iter()
                    .map(|j| at(j).map_or(Src::Outside, Src::Inner))
                    .collect();
                (net.layers()[i].clone(), ins)
            })
            .collect();
        let output = Src::Inner(layers.len().checked_sub(1)?);
        Some(Expansion { layers, output })
    }

    /// The same layers with Keras-style names free in `net` (`conv2d_3`, ...), as a
    /// second copy needs.
    pub fn renamed_for(mut self, net: &Network) -> Expansion {
        let mut taken: Vec<String> = Vec::new();
        for (l, _) in &mut self.layers {
            let base = crate::keras::objects::to_snake_case(l.class_name());
            let free = |n: &str| net.find(n).is_none() && !taken.iter().any(|t| t == n);
            let name = if free(&base) {
                base.clone()
            } else {
                (1..)
                    .map(|k| format!("{base}_{k}"))
                    .find(|n| free(n))
                    .unwrap_or(base)
            };
            taken.push(name.clone());
            l.name = name;
        }
        self
    }
}

impl Network {
    /// Inserts a block's layers after position `after`: the first ones take that
    /// layer's output, and the layers it fed take the block's output instead (as
    /// [`Network::insert_after`] does for one layer). The model becomes Functional.
    /// Returns the positions of the block's layers.
    pub fn insert_block(
        &mut self,
        after: usize,
        block: Expansion,
    ) -> Result<std::ops::Range<usize>, GraphError> {
        let taken = block.layers.iter().find_map(|(l, _)| self.find(&l.name));
        if let Some(k) = taken {
            let name = self.layers()[k].name.clone();
            return Err(GraphError::Refused(format!(
                "The block's layer name '{name}' is taken: give the block another name."
            )));
        }
        self.set_functional(true)?;
        let Some(src) = self.layers().get(after).map(|l| l.id()) else {
            return Err(GraphError::Refused(
                "No layer to insert the block after.".into(),
            ));
        };
        let start = after + 1;
        let mut ids = Vec::with_capacity(block.layers.len());
        let mut placed = Vec::with_capacity(block.layers.len());
        for (mut l, ins) in block.layers {
            l.id = self.fresh_id();
            l.inputs = ins
                .iter()
                .map(|s| match s {
                    Src::Outside => src,
                    Src::Inner(k) => ids[*k],
                })
                .collect();
            ids.push(l.id);
            placed.push(l);
        }
        let out = match block.output {
            Src::Outside => src,
            Src::Inner(k) => ids[k],
        };
        let n = placed.len();
        self.rewire_consumers(src, out, &ids);
        self.splice_layers(start, placed);
        Ok(start..start + n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::analysis::Analysis;

    fn net_on(shape: &[i64]) -> Network {
        Network::sequential("m", shape)
    }

    fn insert(net: &mut Network, kind: BlockKind, args: &[(&str, f64)]) -> Analysis {
        let a = net.analyze();
        let input = a.layers[net.len() - 1].output_shape.clone().unwrap();
        let mut b = Block::new(kind, net, &input);
        for (k, v) in args {
            b.args.iter_mut().find(|a| a.key == *k).unwrap().value = *v;
        }
        let e = b.expand(net, &input).unwrap();
        let at = net.len() - 1;
        net.insert_block(at, e).unwrap();
        net.check().unwrap();
        net.analyze()
    }

    fn out(net: &Network, a: &Analysis, name: &str) -> Vec<Option<i64>> {
        a.layers[net.find(name).unwrap()]
            .output_shape
            .clone()
            .unwrap()
    }

    #[test]
    fn every_block_expands_and_keras_accepts_it() {
        for kind in BlockKind::ALL {
            let mut net = net_on(&[32, 32, 64]);
            let a = insert(&mut net, kind, &[]);
            for (l, r) in net.layers().iter().zip(&a.layers) {
                assert!(r.error.is_none(), "{kind:?} {}: {:?}", l.name, r.error);
                assert!(r.output_shape.is_some(), "{kind:?} {}", l.name);
            }
        }
    }

    #[test]
    fn bottleneck_with_stride_2_gets_a_projection_shortcut() {
        let mut net = net_on(&[56, 56, 256]);
        let a = insert(
            &mut net,
            BlockKind::Bottleneck,
            &[("filters", 128.0), ("stride", 2.0)],
        );
        let p = net.find("conv2_block1_0_conv").unwrap();
        assert_eq!(
            out(&net, &a, "conv2_block1_0_conv"),
            [None, Some(28), Some(28), Some(512)]
        );
        assert_eq!(
            out(&net, &a, "conv2_block1_out"),
            [None, Some(28), Some(28), Some(512)]
        );
        // Keras's ResNet50 conv3_block1_0_conv: 256·512 + 512.
        assert_eq!(a.layers[p].params(), 131_584);
        // Same width, stride 1: the identity shortcut (the block's input into the Add).
        let mut net = net_on(&[56, 56, 256]);
        insert(&mut net, BlockKind::Bottleneck, &[]);
        assert!(net.find("conv2_block1_0_conv").is_none());
        let add = net.find("conv2_block1_add").unwrap();
        assert_eq!(net.inputs_of(add)[0], 0);
    }

    #[test]
    fn names_follow_keras_applications_and_count_up() {
        let mut net = net_on(&[56, 56, 64]);
        insert(&mut net, BlockKind::Basic, &[]);
        insert(&mut net, BlockKind::Basic, &[]);
        assert!(net.find("conv2_block1_out").is_some());
        assert!(net.find("conv2_block2_1_conv").is_some());
        let mut net = net_on(&[112, 112, 32]);
        let a = insert(&mut net, BlockKind::InvertedResidual, &[("stride", 2.0)]);
        // MobileNetV2's block_1 pads 112 to 113 (correct_pad) before the valid 3×3.
        assert_eq!(
            out(&net, &a, "block_1_pad"),
            [None, Some(113), Some(113), Some(192)]
        );
        assert_eq!(
            out(&net, &a, "block_1_project_BN"),
            [None, Some(56), Some(56), Some(24)]
        );
        assert!(net.find("block_1_add").is_none());
    }

    #[test]
    fn a_copied_subgraph_pastes_with_its_wiring_and_fresh_names() {
        let mut net = net_on(&[16, 16, 64]);
        insert(&mut net, BlockKind::Basic, &[]);
        let picked: Vec<usize> = (1..net.len()).collect();
        let e = Expansion::copy_of(&net, &picked).unwrap().renamed_for(&net);
        let n = e.layers.len();
        let last = net.len() - 1;
        let r = net.insert_block(last, e).unwrap();
        net.check().unwrap();
        assert_eq!(r.len(), n);
        let a = net.analyze();
        assert!(a.layers.iter().all(|r| r.error.is_none()));
        // The copy's Add takes its own BatchNormalization and the paste point (the
        // first block's output), as the original took its input.
        let add = net.find("add").unwrap();
        let ins: Vec<&str> = net
            .inputs_of(add)
            .iter()
            .map(|&j| net.layers()[j].name.as_str())
            .collect();
        assert_eq!(ins, ["conv2_block1_out", "batch_normalization_1"]);
        assert!(Expansion::copy_of(&net, &[0]).is_none());
    }

    #[test]
    fn the_block_output_feeds_what_the_insertion_point_fed() {
        let mut net = net_on(&[32, 32, 16]);
        net.insert_new(0, "Flatten").unwrap();
        let a = net.analyze();
        let input = a.layers[0].output_shape.clone().unwrap();
        let b = Block::new(BlockKind::SqueezeExcite, &net, &input);
        let e = b.expand(&net, &input).unwrap();
        let r = net.insert_block(0, e).unwrap();
        let flatten = net.find("flatten").unwrap();
        assert_eq!(net.inputs_of(flatten), [r.end - 1]);
        assert_eq!(net.layers()[r.end - 1].name, "block1a_se_excite");
        assert!(net.functional);
    }
}
