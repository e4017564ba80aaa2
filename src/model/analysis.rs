//! What Keras would say about every layer of a network: output shape or rejection (with
//! Keras's own wording and numbers), parameter counts, weight shapes, and the costs a
//! designer wants to see (MACs, activation bytes, receptive field, `same` padding split,
//! the layout of each output).
//!
//! The walk over the graph lives here; each kind's own rule is its
//! [`crate::layers::LayerSpec::build`]. It is pure and cheap (a 100-layer stack takes
//! microseconds), so the UI recomputes it on every keystroke.

use super::network::Network;
use crate::keras::error::KerasError;
use crate::keras::geometry::ReceptiveField;
use crate::keras::pyfmt;
use crate::keras::report::LayerReport;
use crate::keras::shape::{Shape, elements};
use crate::layers::Cx;
use serde::Serialize;
use std::collections::HashSet;

/// The analysis of a whole network: one report per layer (same order as
/// `Network::layers`), and totals.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Analysis {
    pub layers: Vec<LayerReport>,
    /// Index of the first layer Keras rejects.
    pub first_error: Option<usize>,
    pub trainable_params: i64,
    pub non_trainable_params: i64,
    pub macs: i64,
}

impl Analysis {
    pub fn total_params(&self) -> i64 {
        self.trainable_params
            .saturating_add(self.non_trainable_params)
    }

    /// The rejection of the first failing layer, as `summary` reports it.
    pub fn error(&self, net: &Network) -> Option<String> {
        let i = self.first_error?;
        let l = net.layers().get(i)?;
        let e = self.layers.get(i)?.error.as_ref()?;
        Some(format!(
            "Layer '{}' ({}): {}",
            l.name,
            l.class_name(),
            e.message
        ))
    }
}

impl Network {
    /// Runs the shape, parameter and cost analysis.
    pub fn analyze(&self) -> Analysis {
        analyze(self)
    }
}

/// Analyses every layer in order. Layers after a failure, or fed by one, get an unknown
/// shape: never a made-up one.
pub fn analyze(net: &Network) -> Analysis {
    let layers = net.layers();
    let mut reports: Vec<LayerReport> = Vec::with_capacity(layers.len());
    let mut first_error = None;
    let mut names = HashSet::new();
    // The model's input is laid out like its first layer with a data_format.
    let input_cf = layers
        .iter()
        .skip(1)
        .find_map(|l| l.kind.data_format())
        .is_some_and(|df| df.is_first());
    for (i, layer) in layers.iter().enumerate() {
        let inputs = net.inputs_of(i);
        let in_shapes: Option<Vec<Shape>> = inputs
            .iter()
            .map(|&j| reports.get(j).and_then(|r| r.output_shape.clone()))
            .collect();
        let first_in = inputs.first().and_then(|&j| reports.get(j));
        let rfs: Vec<Option<ReceptiveField>> = inputs
            .iter()
            .map(|&j| reports.get(j).and_then(|r| r.receptive_field))
            .collect();
        let rf = rfs
            .first()
            .copied()
            .flatten()
            .unwrap_or(ReceptiveField::INPUT);
        let in_cf = first_in.map_or(input_cf, |r| r.channels_first);
        let mut report = if !names.insert(layer.name.as_str()) {
            let mut r = LayerReport::unknown();
            r.error = Some(KerasError::build(if net.functional {
                format!(
                    "The name \"{}\" is used 2 times in the model. All operation names \
                     should be unique.",
                    layer.name
                )
            } else {
                format!(
                    "All layers added to a Sequential model should have unique names. Name \
                     '{}' is already the name of a layer in this model. Update the `name` \
                     argument to pass a unique name.",
                    layer.name
                )
            }));
            r
        } else {
            match in_shapes {
                Some(shapes) if !shapes.is_empty() || layer.kind.is_input() => {
                    let mut r = analyze_layer(net, i, &shapes, (rf, &rfs), in_cf);
                    // What follows a field that is not known is not known either.
                    if rfs.iter().any(Option::is_none) {
                        r.receptive_field = None;
                    }
                    r
                }
                Some(_) => {
                    let mut r = LayerReport::unknown();
                    r.error = Some(KerasError::build(format!(
                        "Layer '{}' has no input.",
                        layer.name
                    )));
                    r
                }
                None => LayerReport::unknown(),
            }
        };
        report.channels_first = layer.kind.data_format().map_or(
            if layer.kind.is_input() {
                input_cf
            } else {
                in_cf
            },
            |df| df.is_first(),
        );
        if report.error.is_some() && first_error.is_none() {
            first_error = Some(i);
        }
        reports.push(report);
    }
    let mut a = Analysis {
        trainable_params: 0,
        non_trainable_params: 0,
        macs: 0,
        layers: reports,
        first_error,
    };
    for r in &a.layers {
        a.trainable_params = a.trainable_params.saturating_add(r.trainable_params);
        a.non_trainable_params = a
            .non_trainable_params
            .saturating_add(r.non_trainable_params);
        a.macs = a.macs.saturating_add(r.macs);
    }
    a
}

fn analyze_layer(
    net: &Network,
    index: usize,
    inputs: &[Shape],
    (rf, rfs): (ReceptiveField, &[Option<ReceptiveField>]),
    channels_first: bool,
) -> LayerReport {
    let layer = &net.layers()[index];
    let mut report = LayerReport::unknown();
    let result = (|| {
        if let Some(msg) = &layer.construct_error {
            return Err(KerasError::construct(msg.clone()));
        }
        let empty = Shape::new();
        let cx = Cx {
            name: &layer.name,
            class: layer.class_name(),
            inputs,
            input: inputs.first().unwrap_or(&empty),
            index,
            rf,
            rfs,
            channels_first,
        };
        let out = layer.kind.spec().build(&cx, &mut report)?;
        if out.iter().skip(1).flatten().any(|d| *d < 0) {
            return Err(KerasError::build(format!(
                "Computed output size would be zero or negative. Received an output shape of {}.",
                pyfmt::tuple_opt(&out)
            )));
        }
        report.output_bytes = elements(&out).saturating_mul(4);
        report.output_shape = Some(out);
        Ok(())
    })();
    if let Err(e) = result {
        let mut r = LayerReport::unknown();
        r.error = Some(e);
        return r;
    }
    // Count parameters from the weight shapes; a frozen layer's are all non-trainable.
    for w in &report.weights {
        let n = w.count();
        if w.trainable && layer.trainable {
            report.trainable_params = report.trainable_params.saturating_add(n);
        } else {
            report.non_trainable_params = report.non_trainable_params.saturating_add(n);
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use crate::layers::{DataFormat, LayerKind, Padding, Pair};
    use crate::model::network::Network;

    fn out(n: i64, k: i64, s: i64, padding: Padding, op: Option<i64>, d: i64) -> Option<i64> {
        let mut net = Network::sequential("t", &[n, n, 1]);
        let i = net.insert_new(0, "Conv2DTranspose").unwrap();
        if let LayerKind::Conv2DTranspose(c) = &mut net.layer_mut(i).kind {
            c.filters = 1;
            c.base.kernel_size = Pair::square(k);
            c.base.strides = Pair::square(s);
            c.base.padding = padding;
            c.output_padding = op.map(Pair::square);
            c.base.dilation_rate = Pair::square(d);
        }
        net.analyze().layers[i]
            .output_shape
            .as_ref()
            .and_then(|s| s[1])
    }

    /// Keras's transposed-convolution output sizes (`deconv_output_length`).
    #[test]
    fn transposed_conv_table() {
        let (v, s) = (Padding::Valid, Padding::Same);
        // valid: (n-1)*s + max(k', s)
        assert_eq!(out(5, 3, 1, v, None, 1), Some(7));
        assert_eq!(out(5, 3, 2, v, None, 1), Some(11));
        assert_eq!(out(5, 2, 3, v, None, 1), Some(15));
        assert_eq!(out(2, 5, 1, v, None, 1), Some(6));
        // valid with output_padding: (n-1)*s + k' + p
        assert_eq!(out(5, 3, 2, v, Some(1), 1), Some(12));
        // same: n*s; with output_padding: (n-1)*s + k'%2 + p
        assert_eq!(out(5, 3, 2, s, None, 1), Some(10));
        assert_eq!(out(5, 4, 2, s, Some(1), 1), Some(9));
        assert_eq!(out(5, 3, 2, s, Some(0), 1), Some(9));
        assert_eq!(out(3, 2, 1, s, Some(0), 1), Some(2));
        // dilation: k' = (k-1)*d + 1
        assert_eq!(out(5, 3, 1, v, None, 2), Some(9));
    }

    /// Each output's layout follows the nearest layer with a data_format.
    #[test]
    fn layouts_follow_data_format() {
        let mut net = Network::sequential("t", &[3, 8, 8]);
        let c = net.insert_new(0, "Conv2D").unwrap();
        if let LayerKind::Conv2D(k) = &mut net.layer_mut(c).kind {
            k.base.data_format = DataFormat::ChannelsFirst;
        }
        let r = net.insert_new(c, "ReLU").unwrap();
        let f = net.insert_new(r, "Flatten").unwrap();
        let a = net.analyze();
        assert!(a.layers[0].channels_first && a.layers[c].channels_first);
        assert!(a.layers[r].channels_first);
        assert!(!a.layers[f].channels_first);
        assert_eq!(
            a.layers[c].output_shape,
            Some(vec![None, Some(32), Some(6), Some(6)])
        );
    }

    /// After flattening or global pooling every unit sees the whole image, and so does
    /// the Dense layer after it (not a 1-pixel field restarted at the input).
    #[test]
    fn whole_image_layers_see_the_whole_image() {
        for whole in ["Flatten", "GlobalAveragePooling2D"] {
            let mut net = Network::sequential("t", &[9, 7, 1]);
            let c = net.insert_new(0, "Conv2D").unwrap();
            let g = net.insert_new(c, whole).unwrap();
            let d = net.insert_new(g, "Dense").unwrap();
            let a = net.analyze();
            let rf = |i: usize| a.layers[i].receptive_field.unwrap();
            assert_eq!(rf(c).size, [3.0, 3.0], "{whole}");
            // 7×5 outputs of a 3×3 kernel: 9×7 input pixels.
            assert_eq!(rf(g).size, [9.0, 7.0], "{whole}");
            assert_eq!(rf(g).start, [4.0, 3.0], "{whole}");
            assert_eq!(rf(d).size, [9.0, 7.0], "{whole}");
        }
    }
}
