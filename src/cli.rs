//! The command line: `summary` and `export` over the same library the app uses.
//! Commands other programs call are contracts: keep their form and exit codes
//! (0 ok, 1 a model Keras would reject, 2 an unreadable file or bad usage).

use crate::io::config::NestedModel;
use crate::io::{self, config, python};
use crate::keras::pyfmt;
pub use crate::keras::pyfmt::{readable_bytes, short_count, thousands};
use crate::model::{Analysis, Network};
use clap::{Parser, Subcommand, ValueEnum};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

#[derive(Parser, Debug)]
#[command(
    name = "convscope",
    version,
    about = "Design CNNs the Keras way and look inside them"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Model or image files to open in the window.
    pub files: Vec<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print a Keras-style summary: output shapes, parameters, MACs, receptive fields.
    Summary {
        /// A .keras archive, a legacy .h5 model file or a Keras config .json.
        model: PathBuf,
        /// Print one JSON object instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// Run the model on an input and write every layer's activations as .npy files.
    Run {
        model: PathBuf,
        /// A .npy array (the model's full input shape, batch included) or an image; once
        /// per model input, in the model's input order.
        #[arg(long, required = true)]
        input: Vec<PathBuf>,
        /// Output folder (<layer>.npy per layer and index.json), or a .npz file with
        /// every layer's output keyed by layer name.
        #[arg(long)]
        out: PathBuf,
        /// Seed for initializer weights (models without weights).
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// How image pixels are scaled.
        #[arg(long, value_enum, default_value = "unit")]
        preprocess: PreprocessArg,
    },
    /// Train as Keras's train_on_batch does, then write the trained model as .keras.
    Train {
        model: PathBuf,
        /// A folder of class folders, an .npz (x_train, y_train) or shapes[:N].
        #[arg(long, conflicts_with = "input")]
        data: Option<String>,
        /// Steps (one fixed batch with --input/--target: each step the whole batch).
        #[arg(long, conflicts_with = "epochs")]
        steps: Option<usize>,
        /// Epochs.
        #[arg(long)]
        epochs: Option<usize>,
        /// Batch size (with --data).
        #[arg(long, default_value_t = 32)]
        batch_size: usize,
        /// NAME[:ARG=VALUE,...] with Keras's names: sgd, adam, adamw, rmsprop, adagrad, nadam.
        #[arg(long, default_value = "adam")]
        optimizer: String,
        /// The loss by its Keras name (mse, mae, huber, categorical_crossentropy, ...).
        #[arg(long, default_value = "mse")]
        loss: String,
        /// The fixed batch's target (.npy), with --input.
        #[arg(long, requires = "input")]
        target: Option<PathBuf>,
        /// The fixed batch (.npy), once per model input.
        #[arg(long, requires = "target")]
        input: Vec<PathBuf>,
        /// Keep the data's order (with --data).
        #[arg(long)]
        no_shuffle: bool,
        /// Seed of the dropout masks, the shuffling and initializer weights.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Fraction held out for validation (with --data).
        #[arg(long)]
        validation_split: Option<f64>,
        /// The trained model to write.
        #[arg(long)]
        out: PathBuf,
        /// One JSON line per step: {"step", "epoch", "loss"}.
        #[arg(long)]
        log: Option<PathBuf>,
    },
    /// The gradients of sum(output_of_layer * cotangent) in inference mode, as one .npz:
    /// `input`, `<layer>/<i>` per trainable weight, and `output/<layer>` with --activations.
    Grad {
        model: PathBuf,
        /// A .npy array or an image; once per model input, in the model's input order.
        #[arg(long, required = true)]
        input: Vec<PathBuf>,
        /// The .npz to write.
        #[arg(long)]
        out: PathBuf,
        /// The layer whose output the scalar reads (default: the model's output).
        #[arg(long)]
        layer: Option<String>,
        /// A .npy of that output's shape (default: ones).
        #[arg(long)]
        cotangent: Option<PathBuf>,
        /// Also write d/d each layer's output as `output/<layer>`.
        #[arg(long)]
        activations: bool,
        /// Seed for initializer weights (models without weights).
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// How image pixels are scaled.
        #[arg(long, value_enum, default_value = "unit")]
        preprocess: PreprocessArg,
    },
    /// Why the model decides: an attribution map of a class (or a channel) drawn over
    /// the input, and with --npy the raw map.
    Explain {
        model: PathBuf,
        /// A .npy array or an image; once per model input, in the model's input order.
        #[arg(long, required = true)]
        input: Vec<PathBuf>,
        /// gradcam, gradcam++, scorecam, saliency, smoothgrad, ig or occlusion.
        #[arg(long, default_value = "gradcam")]
        method: String,
        /// The class, by its index in the output (default: the top one).
        #[arg(long)]
        class: Option<usize>,
        /// LAYER:CHANNEL: explain what makes that channel fire instead of a class.
        #[arg(long)]
        target: Option<String>,
        /// The layer of Grad-CAM, Grad-CAM++ and Score-CAM (default: the last one with
        /// a spatial output).
        #[arg(long)]
        layer: Option<String>,
        /// The overlay PNG to write.
        #[arg(long)]
        out: PathBuf,
        /// Also write the raw map (Grad-CAM's at its layer's resolution) as .npy.
        #[arg(long)]
        npy: Option<PathBuf>,
        /// Integrated gradients: steps from the baseline (default 32).
        #[arg(long)]
        steps: Option<usize>,
        /// Integrated gradients: the constant baseline (default 0).
        #[arg(long)]
        baseline: Option<f32>,
        /// SmoothGrad: noisy samples (default 20).
        #[arg(long)]
        samples: Option<usize>,
        /// SmoothGrad: noise, a fraction of the input's range (default 0.2).
        #[arg(long)]
        noise: Option<f32>,
        /// Occlusion: the patch's side in pixels (default an eighth of the image).
        #[arg(long)]
        window: Option<usize>,
        /// Occlusion: pixels between patches (default half the window).
        #[arg(long)]
        stride: Option<usize>,
        /// Score-CAM: at most this many channels, those varying most (default 64).
        #[arg(long)]
        channels: Option<usize>,
        /// viridis, magma, gray, diverging or turbo.
        #[arg(long, default_value = "turbo")]
        colormap: String,
        /// The map's opacity over the image, 0 to 1.
        #[arg(long, default_value_t = 0.5)]
        opacity: f32,
        /// Seed for initializer weights (models without weights) and SmoothGrad's noise.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// How image pixels are scaled.
        #[arg(long, value_enum, default_value = "unit")]
        preprocess: PreprocessArg,
    },
    /// What a channel looks for: the picture that maximizes its mean activation, by
    /// gradient ascent from seeded noise with Lucid's regularization (frequency-space
    /// image, random jitter, scaling and rotation).
    Visualize {
        model: PathBuf,
        /// The layer's name.
        #[arg(long, required_unless_present = "class")]
        layer: Option<String>,
        /// The channel.
        #[arg(long, default_value_t = 0)]
        channel: usize,
        /// Instead of one channel: channels 0..N in a grid.
        #[arg(long, conflicts_with = "class")]
        grid: Option<usize>,
        /// Instead of a channel: the class K's score (before the model's final softmax).
        #[arg(long, conflicts_with_all = ["layer", "grid"])]
        class: Option<usize>,
        /// The PNG to write.
        #[arg(long)]
        out: PathBuf,
        /// Ascent steps.
        #[arg(long, default_value_t = 256)]
        steps: usize,
        /// Seed of the starting noise and the random transformations.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Adam's learning rate.
        #[arg(long, default_value_t = 0.05)]
        learning_rate: f32,
        /// Largest random shift in pixels each step.
        #[arg(long, default_value_t = 8)]
        jitter: usize,
        /// Gaussian blur of the image each step (sigma in pixels; 0: none).
        #[arg(long, default_value_t = 0.0)]
        blur: f32,
        /// How the model expects its pixels (the picture is made in [0, 1]).
        #[arg(long, value_enum, default_value = "unit")]
        preprocess: PreprocessArg,
    },
    /// What a channel responds to in real images: each channel's most activating input
    /// patches (their receptive fields) over a folder of images.
    Patches {
        model: PathBuf,
        /// The layer's name (a spatial output).
        #[arg(long)]
        layer: String,
        /// The folder of images (read one at a time; files that are not images are
        /// skipped and counted).
        #[arg(long)]
        images: PathBuf,
        /// Patches kept per channel.
        #[arg(long, default_value_t = 9)]
        top: usize,
        /// The folder to write index.json and patches.png into.
        #[arg(long)]
        out: PathBuf,
        #[arg(long, value_enum, default_value = "unit")]
        preprocess: PreprocessArg,
    },
    /// Draw one layer's feature maps as a PNG grid (one tile per channel).
    Render {
        model: PathBuf,
        /// A .npy array or an image; once per model input, in the model's input order.
        #[arg(long, required = true)]
        input: Vec<PathBuf>,
        /// The layer's name, as in `convscope summary`.
        #[arg(long)]
        layer: String,
        /// The PNG to write.
        #[arg(long)]
        out: PathBuf,
        #[arg(long, value_enum, default_value = "viridis")]
        colormap: ColormapArg,
        /// Range of each tile: its own min-max, the layer's, or --min/--max.
        #[arg(long, value_enum, default_value = "channel")]
        norm: NormArg,
        /// Fixed range (with --max); implies a fixed normalisation.
        #[arg(long, requires = "max", allow_negative_numbers = true)]
        min: Option<f32>,
        #[arg(long, requires = "min", allow_negative_numbers = true)]
        max: Option<f32>,
        /// Channel order.
        #[arg(long, value_enum, default_value = "index")]
        sort: SortArg,
        /// Pixel magnification (default: tiles at least 64 pixels across).
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..=64))]
        scale: Option<u16>,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(long, value_enum, default_value = "unit")]
        preprocess: PreprocessArg,
    },
    /// Time full forward passes: median/min/max and per layer. Only what is still to be
    /// read is kept (as TensorFlow's graph mode runs), unless --all-layers.
    Bench {
        model: PathBuf,
        /// A .npy array or an image, once per model input (default: pseudo-random values
        /// of each input's shape).
        #[arg(long)]
        input: Vec<PathBuf>,
        /// Timed runs (after one warm-up).
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100000))]
        runs: u32,
        /// Threads (default: the machine's cores).
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
        threads: Option<u16>,
        /// Print {"median_ms", "min_ms", "max_ms", "layers": [{"name", "ms"}]}.
        #[arg(long)]
        json: bool,
        #[arg(long, value_enum, default_value = "unit")]
        preprocess: PreprocessArg,
        /// Keep every layer's output, as the window does (element-wise layers then write
        /// new arrays instead of changing their input in place).
        #[arg(long)]
        all_layers: bool,
        /// Time the gradients of the input and every weight (forward pass keeping every
        /// output, then the backward pass for a cotangent of ones) instead of a prediction.
        #[arg(long)]
        grad: bool,
    },
    /// Write the model as Keras config JSON or as Keras Python code.
    Export {
        model: PathBuf,
        /// keras-json: config JSON; python: Keras code; keras: a .keras archive with weights
        /// (the file's own, or drawn from the initializers with --seed); svg/png: a diagram;
        /// pytorch: PyTorch code plus its weights as .npz.
        #[arg(long, value_enum)]
        format: ExportFormat,
        #[arg(long)]
        out: PathBuf,
        /// Seed for initializer weights (--format keras, models without weights).
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Compare two model files: layers added, removed and changed (matched by name, then
    /// by position and class), each changed argument with both values, shapes,
    /// parameters, MACs and receptive fields, and the totals. Exit 0 when the designs
    /// are the same, 1 when they differ, 2 on errors.
    Diff {
        a: PathBuf,
        b: PathBuf,
        /// Print {"added", "removed", "changed", "totals"} as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write a design made of one block (ResNet, MobileNetV2, Inception, DenseNet, U-Net
    /// ...) on an input, as Keras config JSON: the layers the window's block palette
    /// inserts.
    Block {
        #[arg(value_enum)]
        kind: BlockArg,
        /// The input's shape, batch axis excluded: 56,56,64.
        #[arg(long, value_delimiter = ',', required = true)]
        input: Vec<i64>,
        /// A block argument, KEY=VALUE (filters=128, stride=2, ...); repeatable.
        #[arg(long = "arg")]
        args: Vec<String>,
        /// The block's name prefix (default: keras.applications' first, e.g. conv2_block1).
        #[arg(long)]
        name: Option<String>,
        /// The config JSON to write.
        #[arg(long)]
        out: PathBuf,
    },
}

/// The blocks of [`crate::model::blocks::BlockKind`].
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum BlockArg {
    Basic,
    Bottleneck,
    Preact,
    InvertedResidual,
    Se,
    Inception,
    DenseBlock,
    Transition,
    Unet,
}

impl From<BlockArg> for crate::model::blocks::BlockKind {
    fn from(b: BlockArg) -> Self {
        use crate::model::blocks::BlockKind;
        match b {
            BlockArg::Basic => BlockKind::Basic,
            BlockArg::Bottleneck => BlockKind::Bottleneck,
            BlockArg::Preact => BlockKind::PreActivation,
            BlockArg::InvertedResidual => BlockKind::InvertedResidual,
            BlockArg::Se => BlockKind::SqueezeExcite,
            BlockArg::Inception => BlockKind::Inception,
            BlockArg::DenseBlock => BlockKind::DenseBlock,
            BlockArg::Transition => BlockKind::Transition,
            BlockArg::Unet => BlockKind::UNet,
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum PreprocessArg {
    Unit,
    Raw,
    Symmetric,
    Imagenet,
    Caffe,
}

impl From<PreprocessArg> for crate::io::image::Preprocess {
    fn from(p: PreprocessArg) -> Self {
        use crate::io::image::Preprocess;
        match p {
            PreprocessArg::Unit => Preprocess::Unit,
            PreprocessArg::Raw => Preprocess::Raw,
            PreprocessArg::Symmetric => Preprocess::Symmetric,
            PreprocessArg::Imagenet => Preprocess::Imagenet,
            PreprocessArg::Caffe => Preprocess::Caffe,
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum ColormapArg {
    Viridis,
    Magma,
    #[value(alias = "grey")]
    Gray,
    /// Red-blue, symmetric around 0.
    Diverging,
}

impl From<ColormapArg> for crate::viz::Colormap {
    fn from(c: ColormapArg) -> Self {
        use crate::viz::Colormap;
        match c {
            ColormapArg::Viridis => Colormap::Viridis,
            ColormapArg::Magma => Colormap::Magma,
            ColormapArg::Gray => Colormap::Gray,
            ColormapArg::Diverging => Colormap::Diverging,
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum NormArg {
    Channel,
    Layer,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum SortArg {
    Index,
    Mean,
    Energy,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum ExportFormat {
    KerasJson,
    Python,
    Keras,
    /// The architecture diagram (boxes with output shapes and parameters).
    Svg,
    /// The same diagram as a PNG (twice the SVG's size).
    Png,
    /// PyTorch code (an nn.Module computing the same function) to OUT, and its weights
    /// (the file's own, or drawn with --seed) to OUT with the extension .npz.
    Pytorch,
}

/// Outcome of a command: what to print and the exit status.
pub struct Outcome {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

impl Outcome {
    fn ok(stdout: String) -> Outcome {
        Outcome {
            stdout,
            stderr: String::new(),
            code: 0,
        }
    }
    fn fail(code: i32, stderr: String) -> Outcome {
        Outcome {
            stdout: String::new(),
            stderr,
            code,
        }
    }
}

/// Runs a command without touching the process (testable).
pub fn run(cmd: &Command) -> Outcome {
    match cmd {
        Command::Summary { model, json } => {
            let loaded = match io::open_model(model) {
                Ok(l) => l,
                Err(e) => return Outcome::fail(2, format!("error: {}: {e}\n", model.display())),
            };
            let net = loaded.network;
            let analysis = net.analyze();
            if let Some(msg) = analysis.error(&net) {
                return Outcome::fail(1, format!("error: {msg}\n"));
            }
            let origin = loaded.provenance.describe();
            let nested = &loaded.provenance.nested;
            if *json {
                let v = summary_json_nested(&net, &analysis, nested);
                Outcome::ok(format!(
                    "{}\n",
                    serde_json::to_string_pretty(&v).unwrap_or_default()
                ))
            } else {
                let table = summary_table_nested(&net, &analysis, nested);
                Outcome::ok(match origin {
                    Some(o) => format!("{o}\n{table}"),
                    None => table,
                })
            }
        }
        Command::Run {
            model,
            input,
            out,
            seed,
            preprocess,
        } => match crate::runner::run_to_dir(model, input, out, *seed, (*preprocess).into()) {
            Ok(n) => Outcome::ok(format!("wrote {n} layer outputs to {}\n", out.display())),
            Err(crate::runner::RunError::Rejected(m)) => Outcome::fail(1, format!("error: {m}\n")),
            Err(e) => Outcome::fail(2, format!("error: {e}\n")),
        },
        Command::Train {
            model,
            data,
            steps,
            epochs,
            optimizer,
            loss,
            target,
            input,
            seed,
            out,
            log,
            batch_size,
            no_shuffle,
            validation_split,
            ..
        } => {
            let options = crate::runner::TrainOptions {
                inputs: input.clone(),
                target: target.clone(),
                data: data.clone(),
                batch_size: *batch_size,
                shuffle: !*no_shuffle,
                validation_split: *validation_split,
                steps: *steps,
                epochs: *epochs,
                optimizer: optimizer.clone(),
                loss: loss.clone(),
                seed: *seed,
                log: log.clone(),
            };
            match crate::runner::train_to_file(model, &options, out) {
                Ok(line) => Outcome::ok(line),
                Err(crate::runner::RunError::Rejected(m)) => {
                    Outcome::fail(1, format!("error: {m}\n"))
                }
                Err(e) => Outcome::fail(2, format!("error: {e}\n")),
            }
        }
        Command::Grad {
            model,
            input,
            out,
            layer,
            cotangent,
            activations,
            seed,
            preprocess,
        } => {
            let options = crate::runner::GradOptions {
                layer: layer.clone(),
                cotangent: cotangent.clone(),
                activations: *activations,
            };
            match crate::runner::grad_to_npz(
                model,
                input,
                out,
                &options,
                *seed,
                (*preprocess).into(),
            ) {
                Ok(n) => Outcome::ok(format!("wrote {n} gradients to {}\n", out.display())),
                Err(crate::runner::RunError::Rejected(m)) => {
                    Outcome::fail(1, format!("error: {m}\n"))
                }
                Err(e) => Outcome::fail(2, format!("error: {e}\n")),
            }
        }
        Command::Explain {
            model,
            input,
            method,
            class,
            target,
            layer,
            out,
            npy,
            steps,
            baseline,
            samples,
            noise,
            window,
            stride,
            channels,
            colormap,
            opacity,
            seed,
            preprocess,
        } => {
            let Some(colormap) = crate::viz::Colormap::parse(colormap) else {
                return Outcome::fail(2, format!("error: unknown colormap '{colormap}'\n"));
            };
            let options = crate::runner::ExplainOptions {
                method: method.clone(),
                class: *class,
                target: target.clone(),
                layer: layer.clone(),
                out: out.clone(),
                npy: npy.clone(),
                steps: *steps,
                samples: *samples,
                noise: *noise,
                baseline: *baseline,
                window: *window,
                stride: *stride,
                channels: *channels,
                colormap,
                opacity: *opacity,
                seed: *seed,
            };
            match crate::runner::explain_to_files(model, input, &options, (*preprocess).into()) {
                Ok(line) => Outcome::ok(line),
                Err(crate::runner::RunError::Rejected(m)) => {
                    Outcome::fail(1, format!("error: {m}\n"))
                }
                Err(e) => Outcome::fail(2, format!("error: {e}\n")),
            }
        }
        Command::Visualize {
            model,
            layer,
            channel,
            grid,
            class,
            out,
            steps,
            seed,
            learning_rate,
            jitter,
            blur,
            preprocess,
        } => {
            let settings = crate::visualize::Settings {
                steps: *steps,
                seed: *seed,
                learning_rate: *learning_rate,
                jitter: *jitter,
                blur: *blur,
                ..Default::default()
            };
            let what = match (class, layer) {
                (Some(k), _) => crate::runner::Visualized::Class(*k),
                (None, Some(l)) => match grid {
                    Some(n) => crate::runner::Visualized::Grid(l, *n),
                    None => crate::runner::Visualized::Channel(l, *channel),
                },
                (None, None) => {
                    return Outcome::fail(2, "error: --layer or --class is needed\n".into());
                }
            };
            match crate::runner::visualize_to_png(model, what, &settings, out, (*preprocess).into())
            {
                Ok(line) => Outcome::ok(line),
                Err(crate::runner::RunError::Rejected(m)) => {
                    Outcome::fail(1, format!("error: {m}\n"))
                }
                Err(e) => Outcome::fail(2, format!("error: {e}\n")),
            }
        }
        Command::Patches {
            model,
            layer,
            images,
            top,
            out,
            preprocess,
        } => match crate::runner::patches_to_dir(
            model,
            layer,
            images,
            *top,
            out,
            (*preprocess).into(),
        ) {
            Ok(line) => Outcome::ok(line),
            Err(crate::runner::RunError::Rejected(m)) => Outcome::fail(1, format!("error: {m}\n")),
            Err(e) => Outcome::fail(2, format!("error: {e}\n")),
        },
        Command::Render {
            model,
            input,
            layer,
            out,
            colormap,
            norm,
            min,
            max,
            sort,
            scale,
            seed,
            preprocess,
        } => {
            use crate::viz::{Norm, Order};
            let opts = crate::runner::RenderOptions {
                colormap: (*colormap).into(),
                norm: match (min, max, norm) {
                    (Some(lo), Some(hi), _) => Norm::Fixed(*lo, *hi),
                    (_, _, NormArg::Layer) => Norm::PerLayer,
                    _ => Norm::PerChannel,
                },
                order: match sort {
                    SortArg::Index => Order::Index,
                    SortArg::Mean => Order::Mean,
                    SortArg::Energy => Order::Energy,
                },
                scale: scale.map(usize::from),
            };
            let pic = crate::runner::run_model(model, input, *seed, (*preprocess).into())
                .and_then(|(net, acts)| crate::runner::render_layer(&net, &acts, layer, opts));
            let pic = match pic {
                Ok(p) => p,
                Err(crate::runner::RunError::Rejected(m)) => {
                    return Outcome::fail(1, format!("error: {m}\n"));
                }
                Err(e) => return Outcome::fail(2, format!("error: {e}\n")),
            };
            match pic
                .to_png()
                .and_then(|png| io::write_atomic(out, &png).map_err(|e| e.to_string()))
            {
                Ok(()) => Outcome::ok(format!(
                    "wrote {}×{} grid of '{layer}' to {}\n",
                    pic.width,
                    pic.height,
                    out.display()
                )),
                Err(e) => Outcome::fail(2, format!("error: cannot write {}: {e}\n", out.display())),
            }
        }
        Command::Bench {
            model,
            input,
            runs,
            threads,
            json,
            preprocess,
            all_layers,
            grad,
        } => {
            let threads = threads
                .map(usize::from)
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            let r = match crate::runner::bench(
                model,
                input,
                *runs as usize,
                threads,
                (*preprocess).into(),
                *all_layers,
                *grad,
            ) {
                Ok(r) => r,
                Err(crate::runner::RunError::Rejected(m)) => {
                    return Outcome::fail(1, format!("error: {m}\n"));
                }
                Err(e) => return Outcome::fail(2, format!("error: {e}\n")),
            };
            if *json {
                let v = json!({
                    "median_ms": r.median_ms,
                    "min_ms": r.min_ms,
                    "max_ms": r.max_ms,
                    "runs": r.runs,
                    "threads": r.threads,
                    "layers": r.layers,
                    "activation_bytes": r.activation_bytes,
                    "weight_bytes": r.weight_bytes,
                    "peak_rss_bytes": r.peak_rss_bytes,
                    "start_anon_bytes": r.start_anon_bytes,
                    "pass_peak_anon_bytes": r.pass_peak_anon_bytes,
                    "code_paged_in_bytes": r.code_paged_in_bytes,
                    "start_rss_bytes": r.start_rss_bytes,
                });
                return Outcome::ok(format!(
                    "{}\n",
                    serde_json::to_string_pretty(&v).unwrap_or_default()
                ));
            }
            let mut s = format!(
                "{}: {} runs on {} thread{}: median {:.3} ms, min {:.3} ms, max {:.3} ms\n",
                model.display(),
                r.runs,
                r.threads,
                if r.threads == 1 { "" } else { "s" },
                r.median_ms,
                r.min_ms,
                r.max_ms
            );
            let mb = |b: f64| b / (1024.0 * 1024.0);
            s += &format!(
                "activations {:.1} MiB, weights {:.1} MiB{}\n",
                mb(r.activation_bytes as f64),
                mb(r.weight_bytes as f64),
                r.peak_rss_bytes.map_or(String::new(), |p| format!(
                    ", process peak {:.1} MiB",
                    mb(p as f64)
                ))
            );
            if let (Some(peak), Some(start)) = (r.pass_peak_anon_bytes, r.start_anon_bytes) {
                s += &format!(
                    "a pass's peak data memory (anonymous, less the program's own) {:.1} MiB\n",
                    mb(peak.saturating_sub(start) as f64)
                );
            }
            let width = r
                .layers
                .iter()
                .map(|l| l.name.chars().count())
                .max()
                .unwrap_or(5);
            for l in &r.layers {
                let share = if r.median_ms > 0.0 {
                    l.ms / r.median_ms * 100.0
                } else {
                    0.0
                };
                match l.backward_ms {
                    Some(b) => {
                        let share = if r.median_ms > 0.0 {
                            (l.ms + b) / r.median_ms * 100.0
                        } else {
                            0.0
                        };
                        s += &format!(
                            "  {:<width$}  forward {:>8.3} ms  backward {:>8.3} ms  {:>5.1} %\n",
                            l.name, l.ms, b, share
                        );
                    }
                    None => {
                        s += &format!("  {:<width$}  {:>9.3} ms  {:>5.1} %\n", l.name, l.ms, share)
                    }
                }
            }
            Outcome::ok(s)
        }
        Command::Export {
            model,
            format,
            out,
            seed,
        } => {
            // What to write, or the outcome that says why not.
            let bytes = match format {
                ExportFormat::Pytorch => return export_pytorch(model, out, *seed),
                ExportFormat::Keras => prepare_or_fail(model, *seed).and_then(|p| {
                    io::keras_write::write_keras(&p.network, &p.weights)
                        .map_err(|e| Outcome::fail(2, format!("error: {e}\n")))
                }),
                _ => io::open_model(model)
                    .map_err(|e| Outcome::fail(2, format!("error: {}: {e}\n", model.display())))
                    .and_then(|loaded| {
                        let net = &loaded.network;
                        match format {
                            ExportFormat::Python => Ok(python::to_python(net).into_bytes()),
                            ExportFormat::Svg => {
                                Ok(io::diagram::to_svg(net, &net.analyze()).into_bytes())
                            }
                            ExportFormat::Png => io::diagram::to_png(net, &net.analyze(), 2.0)
                                .map_err(|e| Outcome::fail(2, format!("error: {e}\n"))),
                            _ => Ok(config::to_json_string(net).into_bytes()),
                        }
                    }),
            };
            write_or_fail(out, bytes)
        }
        Command::Diff { a, b, json } => {
            let open =
                |p: &Path| io::open_model(p).map_err(|e| format!("error: {}: {e}\n", p.display()));
            let (na, nb) = match (open(a), open(b)) {
                (Ok(x), Ok(y)) => (x.network, y.network),
                (Err(e), _) | (_, Err(e)) => return Outcome::fail(2, e),
            };
            let (aa, ab) = (na.analyze(), nb.analyze());
            let d = crate::compare::diff(&na, &aa, &nb, &ab);
            let stdout = if *json {
                format!("{}\n", serde_json::to_string_pretty(&d).unwrap_or_default())
            } else {
                diff_text(&d, a, b)
            };
            Outcome {
                stdout,
                stderr: String::new(),
                code: if d.is_empty() { 0 } else { 1 },
            }
        }
        Command::Block {
            kind,
            input,
            args,
            name,
            out,
        } => write_or_fail(out, block_design(*kind, input, args, name.as_deref())),
    }
}

fn write_or_fail(out: &Path, bytes: Result<Vec<u8>, Outcome>) -> Outcome {
    match bytes {
        Err(outcome) => outcome,
        Ok(bytes) => match io::write_atomic(out, &bytes) {
            Ok(()) => Outcome::ok(String::new()),
            Err(e) => Outcome::fail(2, format!("error: cannot write {}: {e}\n", out.display())),
        },
    }
}

/// A Functional design: an input of `shape`, then the block.
fn block_design(
    kind: BlockArg,
    shape: &[i64],
    args: &[String],
    name: Option<&str>,
) -> Result<Vec<u8>, Outcome> {
    use crate::model::blocks::Block;
    let fail = |m: String| Outcome::fail(2, format!("error: {m}\n"));
    if shape.iter().any(|&d| d <= 0) {
        return Err(fail(format!("the input shape must be positive: {shape:?}")));
    }
    let mut net = crate::model::Network::sequential("block", shape);
    let input = net.analyze().layers[0]
        .output_shape
        .clone()
        .unwrap_or_default();
    let mut block = Block::new(kind.into(), &net, &input);
    if let Some(n) = name {
        block.name = n.to_string();
    }
    for a in args {
        let (key, value) = a
            .split_once('=')
            .ok_or_else(|| fail(format!("--arg {a}: expected KEY=VALUE")))?;
        let value: f64 = value
            .trim()
            .parse()
            .map_err(|_| fail(format!("--arg {a}: {value} is not a number")))?;
        let keys: Vec<&str> = block.args.iter().map(|a| a.key).collect();
        let slot = block
            .args
            .iter_mut()
            .find(|b| b.key == key.trim())
            .ok_or_else(|| {
                fail(format!(
                    "--arg {a}: the block's arguments are {}",
                    keys.join(", ")
                ))
            })?;
        slot.value = value;
    }
    let e = block.expand(&net, &input).map_err(fail)?;
    net.insert_block(0, e).map_err(|e| fail(e.to_string()))?;
    if let Some(e) = net.analyze().error(&net) {
        return Err(fail(e));
    }
    Ok(config::to_json_string(&net).into_bytes())
}

/// The model and its weights, or the failing outcome (1: Keras would reject it, 2: the
/// file cannot be used).
fn prepare_or_fail(model: &std::path::Path, seed: u64) -> Result<crate::runner::Prepared, Outcome> {
    crate::runner::prepare(model, seed).map_err(|e| match e {
        crate::runner::RunError::Rejected(m) => Outcome::fail(1, format!("error: {m}\n")),
        e => Outcome::fail(2, format!("error: {e}\n")),
    })
}

/// `export --format pytorch`: the code to `out`, the weights beside it as `.npz`.
fn export_pytorch(model: &std::path::Path, out: &std::path::Path, seed: u64) -> Outcome {
    let p = match prepare_or_fail(model, seed) {
        Ok(p) => p,
        Err(outcome) => return outcome,
    };
    // A design PyTorch cannot express is the model's problem (1), not the file's.
    let code = match io::pytorch::to_pytorch(&p.network, &p.network.analyze()) {
        Ok(c) => c,
        Err(e) => return Outcome::fail(1, format!("error: {e}\n")),
    };
    match io::pytorch::write_export(out, &code, &p.network, &p.weights) {
        Ok(weights_path) => Outcome::ok(format!(
            "wrote {} and its weights {}\n",
            out.display(),
            weights_path.display()
        )),
        Err(e) => Outcome::fail(2, format!("error: cannot write {}: {e}\n", out.display())),
    }
}

/// `convscope diff` as text: a line per added (`+`) and removed (`-`) layer, a block per
/// changed one (`~`) with each difference `A -> B`, then the totals.
fn diff_text(d: &crate::compare::Diff, a: &Path, b: &Path) -> String {
    use std::fmt::Write;
    let shape = |s: &Option<crate::model::Shape>| {
        s.as_ref().map_or("?".to_string(), |s| pyfmt::tuple_opt(s))
    };
    let delta = |x: i64, y: i64| {
        if x == y {
            thousands(x)
        } else {
            let sign = if y > x { "+" } else { "-" };
            format!(
                "{} -> {} ({sign}{})",
                thousands(x),
                thousands(y),
                thousands((y - x).abs())
            )
        }
    };
    let t = &d.totals;
    let mut s = String::new();
    for (side, path, k) in [("A", a, 0), ("B", b, 1)] {
        let _ = writeln!(
            s,
            "{side}: {} ({} layers, {} params, {} MACs)",
            path.display(),
            t.layers[k],
            thousands(t.params[k]),
            short_count(t.macs[k])
        );
    }
    if d.is_empty() {
        s.push_str("The designs are the same.\n");
        return s;
    }
    for (mark, list) in [("-", &d.removed), ("+", &d.added)] {
        for o in list {
            let _ = writeln!(
                s,
                "{mark} {} ({}) {}, {} params",
                o.name,
                o.class_name,
                shape(&o.output_shape),
                thousands(o.params)
            );
        }
    }
    for c in &d.changed {
        let _ = writeln!(s, "~ {} ({})", c.name, c.class_name);
        for (k, [x, y]) in &c.arguments {
            let _ = writeln!(s, "    {k}: {x} -> {y}");
        }
        if let Some([x, y]) = &c.inputs {
            let _ = writeln!(s, "    inputs: {} -> {}", x.join(", "), y.join(", "));
        }
        if c.output_shape[0] != c.output_shape[1] {
            let _ = writeln!(
                s,
                "    output shape: {} -> {}",
                shape(&c.output_shape[0]),
                shape(&c.output_shape[1])
            );
        }
        if c.params[0] != c.params[1] {
            let _ = writeln!(s, "    params: {}", delta(c.params[0], c.params[1]));
        }
        if c.macs[0] != c.macs[1] {
            let _ = writeln!(s, "    MACs: {}", delta(c.macs[0], c.macs[1]));
        }
        if c.receptive_field[0] != c.receptive_field[1] {
            let rf =
                |f: &Option<[f64; 2]>| f.map_or("-".to_string(), |f| format!("{}×{}", f[0], f[1]));
            let _ = writeln!(
                s,
                "    receptive field: {} -> {}",
                rf(&c.receptive_field[0]),
                rf(&c.receptive_field[1])
            );
        }
    }
    let _ = writeln!(
        s,
        "Totals: {} layers -> {}; params {}; MACs {}",
        t.layers[0],
        t.layers[1],
        delta(t.params[0], t.params[1]),
        delta(t.macs[0], t.macs[1])
    );
    s
}

fn shape_value(s: &Option<crate::model::Shape>) -> Value {
    match s {
        Some(s) => Value::Array(
            s.iter()
                .map(|d| d.map_or(Value::Null, |x| json!(x)))
                .collect(),
        ),
        None => Value::Null,
    }
}

/// One row of the summary: a layer, or a nested model as one row (Keras's view).
struct Row<'a> {
    name: &'a str,
    class_name: &'a str,
    report: std::borrow::Cow<'a, crate::keras::report::LayerReport>,
    connected_to: Vec<String>,
}

/// The rows Keras's summary lists: every layer but a Sequential model's InputLayer; a
/// model the file nests is one row where its first layer is, with its output layer's
/// shape and its layers' parameters and costs summed.
fn rows<'a>(net: &'a Network, a: &'a Analysis, nested: &'a [NestedModel]) -> Vec<Row<'a>> {
    use std::borrow::Cow;
    let model_of = |name: &str| nested.iter().find(|m| m.layers.iter().any(|l| l == name));
    // Outside a nested model, its layers' outputs are the model's.
    let shown = |j: usize| {
        let n = net.layers()[j].name.as_str();
        format!("{}[0][0]", model_of(n).map_or(n, |m| m.name.as_str()))
    };
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for i in 0..net.len() {
        let l = &net.layers()[i];
        if !net.functional && l.kind.is_input() {
            continue;
        }
        let Some(m) = model_of(&l.name) else {
            out.push(Row {
                name: &l.name,
                class_name: l.class_name(),
                report: Cow::Borrowed(&a.layers[i]),
                connected_to: net.inputs_of(i).into_iter().map(shown).collect(),
            });
            continue;
        };
        if !seen.insert(m.name.as_str()) {
            continue;
        }
        let members: Vec<usize> = m.layers.iter().filter_map(|n| net.find(n)).collect();
        let mut r = net
            .find(&m.output)
            .map_or_else(crate::keras::report::LayerReport::unknown, |o| {
                a.layers[o].clone()
            });
        let sum = |f: fn(&crate::keras::report::LayerReport) -> i64| {
            members
                .iter()
                .fold(0i64, |acc, &j| acc.saturating_add(f(&a.layers[j])))
        };
        r.trainable_params = sum(|x| x.trainable_params);
        r.non_trainable_params = sum(|x| x.non_trainable_params);
        r.macs = sum(|x| x.macs);
        r.weights.clear();
        r.warnings = members
            .iter()
            .flat_map(|&j| a.layers[j].warnings.iter().cloned())
            .collect();
        let mut inputs = Vec::new();
        for &j in &members {
            for k in net.inputs_of(j) {
                let s = shown(k);
                if model_of(&net.layers()[k].name).is_none_or(|o| o.name != m.name)
                    && !inputs.contains(&s)
                {
                    inputs.push(s);
                }
            }
        }
        out.push(Row {
            name: &m.name,
            class_name: &m.class,
            report: Cow::Owned(r),
            connected_to: inputs,
        });
    }
    out
}

/// `summary --json`: Keras's `summary.json` keys plus convscope's costs.
pub fn summary_json(net: &Network, a: &Analysis) -> Value {
    summary_json_nested(net, a, &[])
}

/// [`summary_json`] of a file that nests the models `nested` (one row each).
pub fn summary_json_nested(net: &Network, a: &Analysis, nested: &[NestedModel]) -> Value {
    let layers: Vec<Value> = rows(net, a, nested)
        .into_iter()
        .map(|row| {
            let r = &row.report;
            json!({
                "name": row.name,
                "class_name": row.class_name,
                "output_shape": shape_value(&r.output_shape),
                "params": r.params(),
                "trainable_params": r.trainable_params,
                "non_trainable_params": r.non_trainable_params,
                "macs": r.macs,
                "output_bytes": r.output_bytes,
                "receptive_field": r.receptive_field.map(|rf| json!({
                    "size": rf.size, "jump": rf.jump, "start": rf.start
                })),
                "same_padding": r.same_padding,
                "warnings": r.warnings,
                "connected_to": net.functional.then_some(&row.connected_to),
            })
        })
        .collect();
    json!({
        "name": net.name,
        "layers": layers,
        "total_params": a.total_params(),
        "trainable_params": a.trainable_params,
        "non_trainable_params": a.non_trainable_params,
        "total_bytes": a.total_params().saturating_mul(4),
        "trainable_bytes": a.trainable_params.saturating_mul(4),
        "non_trainable_bytes": a.non_trainable_params.saturating_mul(4),
        "macs": a.macs,
    })
}

/// The Keras-style table.
pub fn summary_table(net: &Network, a: &Analysis) -> String {
    summary_table_nested(net, a, &[])
}

/// [`summary_table`] of a file that nests the models `nested` (one row each).
pub fn summary_table_nested(net: &Network, a: &Analysis, nested: &[NestedModel]) -> String {
    let mut headers = vec![
        "Layer (type)",
        "Output Shape",
        "Param #",
        "MACs",
        "Receptive field",
    ];
    // Keras's summary of a Functional model names each layer's inputs.
    if net.functional {
        headers.push("Connected to");
    }
    let mut table: Vec<Vec<String>> = Vec::new();
    for row in rows(net, a, nested) {
        let r = &row.report;
        let shape = r
            .output_shape
            .as_ref()
            .map_or("?".to_string(), |s| pyfmt::tuple_opt(s));
        let rf = r.receptive_field.map_or(String::from("-"), |rf| {
            format!("{}×{}", rf.size[0], rf.size[1])
        });
        let mut cells = vec![
            format!("{} ({})", row.name, row.class_name),
            shape,
            thousands(r.params()),
            short_count(r.macs),
            rf,
        ];
        if net.functional {
            cells.push(if row.connected_to.is_empty() {
                "-".into()
            } else {
                row.connected_to.join(", ")
            });
        }
        table.push(cells);
    }
    let mut w: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in &table {
        for (k, c) in r.iter().enumerate() {
            w[k] = w[k].max(c.chars().count());
        }
    }
    let line = |l: &str, m: &str, r: &str| {
        let parts: Vec<String> = w.iter().map(|n| "─".repeat(n + 2)).collect();
        format!("{l}{}{r}\n", parts.join(m))
    };
    let row = |cells: &[String]| {
        let parts: Vec<String> = cells
            .iter()
            .zip(w.iter())
            .map(|(c, n)| format!(" {c}{} ", " ".repeat(n - c.chars().count())))
            .collect();
        format!("│{}│\n", parts.join("│"))
    };
    let mut s = format!("Model: \"{}\"\n", net.name);
    s += &line("┌", "┬", "┐");
    s += &row(&headers.iter().map(|h| h.to_string()).collect::<Vec<_>>());
    s += &line("├", "┼", "┤");
    for r in &table {
        s += &row(r);
    }
    s += &line("└", "┴", "┘");
    s += &format!(
        " Total params: {} ({})\n Trainable params: {} ({})\n Non-trainable params: {} ({})\n Total MACs: {}\n",
        thousands(a.total_params()),
        readable_bytes(a.total_params()),
        thousands(a.trainable_params),
        readable_bytes(a.trainable_params),
        thousands(a.non_trainable_params),
        readable_bytes(a.non_trainable_params),
        thousands(a.macs),
    );
    s
}
