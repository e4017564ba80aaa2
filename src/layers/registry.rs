//! The registry's machinery. The list itself is the `registry!` call in `layers/mod.rs`
//! (one line per kind); from it come the module declarations, [`LayerKind`] and its
//! dispatch, the palette and the "supported classes" message. The Keras 2 class aliases
//! are listed here.

use super::{ConfigHeader, DataFormat, Family, Kind, LayerKind, kinds};
use std::sync::LazyLock;

/// Declares each kind's module, re-exports its type, and generates [`LayerKind`] with its
/// dispatch and the list the helpers below read.
macro_rules! registry {
    ($($variant:ident($module:ident :: $ty:ident)),* $(,)?) => {
        $(mod $module;)*
        $(pub use $module::$ty;)*

        /// Every supported Keras layer kind, with its arguments.
        // A network holds tens of layers: boxing the larger variants would buy nothing.
        #[allow(clippy::large_enum_variant)]
        #[derive(Clone, Debug, PartialEq)]
        pub enum LayerKind {
            $($variant($ty),)*
        }

        impl LayerKind {
            /// What the kind knows.
            pub fn spec(&self) -> &dyn LayerSpec {
                match self {
                    $(LayerKind::$variant(k) => k,)*
                }
            }

            /// The same, to edit its arguments.
            pub fn spec_mut(&mut self) -> &mut dyn LayerSpec {
                match self {
                    $(LayerKind::$variant(k) => k,)*
                }
            }

            /// The Keras class name.
            pub fn class_name(&self) -> &'static str {
                match self {
                    $(LayerKind::$variant(k) => Kind::class_name(k),)*
                }
            }

            /// What its kind knows without an instance.
            pub fn facts(&self) -> Facts {
                match self {
                    $(LayerKind::$variant(_) => Facts::of::<$ty>(),)*
                }
            }

            /// A layer of `class` (or its Keras 2 name) with Keras's defaults.
            pub fn default_for(class: &str) -> Option<LayerKind> {
                let class = registry::canonical_class(class)?;
                $(
                    if <$ty as Kind>::CLASSES.contains(&class) {
                        return <$ty as Kind>::new(class).map(LayerKind::$variant);
                    }
                )*
                None
            }
        }

        /// Each kind's classes and whether the palette offers them, in registry order.
        fn kinds() -> Vec<(&'static [&'static str], bool)> {
            vec![$((<$ty as Kind>::CLASSES, <$ty as Kind>::IN_PALETTE),)*]
        }
    };
}

/// Old names Keras 2 files use, and the class each is now.
const ALIASES: &[(&str, &str)] = &[
    ("MaxPool2D", "MaxPooling2D"),
    ("AvgPool2D", "AveragePooling2D"),
    ("GlobalAvgPool2D", "GlobalAveragePooling2D"),
    ("GlobalMaxPool2D", "GlobalMaxPooling2D"),
    ("Convolution2D", "Conv2D"),
    ("SeparableConvolution2D", "SeparableConv2D"),
    ("Convolution2DTranspose", "Conv2DTranspose"),
    ("Deconvolution2D", "Conv2DTranspose"),
    ("Deconv2D", "Conv2DTranspose"),
];

/// The class a name stands for (itself, or what a Keras 2 alias means now), if supported.
pub fn canonical_class(class: &str) -> Option<&'static str> {
    let class = ALIASES
        .iter()
        .find(|(old, _)| *old == class)
        .map_or(class, |(_, new)| new);
    kinds()
        .into_iter()
        .flat_map(|(classes, _)| classes.iter().copied())
        .find(|c| *c == class)
}

/// Layer classes the palette offers, in the order it shows them.
pub static PALETTE: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    kinds()
        .into_iter()
        .filter(|(_, palette)| *palette)
        .flat_map(|(classes, _)| classes.iter().copied())
        .collect()
});

/// Every class convscope reads, for the "unknown layer class" message.
pub fn supported_classes() -> Vec<&'static str> {
    kinds()
        .into_iter()
        .flat_map(|(classes, _)| classes.iter().copied())
        .collect()
}

/// A kind's [`Kind`] constants, for a layer at hand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Facts {
    pub family: Family,
    pub build_config: bool,
    pub takes_list: bool,
    pub header: ConfigHeader,
    pub call_kwargs: &'static [&'static str],
    pub module: &'static str,
}

impl Facts {
    /// A `keras.ops` call recorded in the model (not in `model.layers`, no weights
    /// group, operands as positional arguments).
    pub fn is_operation(&self) -> bool {
        self.module.starts_with("keras.src.ops")
    }

    pub const fn of<K: Kind>() -> Facts {
        Facts {
            family: K::FAMILY,
            build_config: K::BUILD_CONFIG,
            takes_list: K::TAKES_LIST,
            header: K::HEADER,
            call_kwargs: K::CALL_KWARGS,
            module: K::MODULE,
        }
    }
}

impl LayerKind {
    /// The data format of layers that have one.
    pub fn data_format(&self) -> Option<DataFormat> {
        self.spec().data_format()
    }

    /// The fused activation of layers that have an `activation` argument.
    pub fn activation(&self) -> Option<&str> {
        self.spec().activation()
    }

    /// Whether this is the network's input.
    pub fn is_input(&self) -> bool {
        matches!(self, LayerKind::Input(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every class makes a layer of that class (operations are looked up by module and
    /// class), and the palette holds no input, merge or operation.
    #[test]
    fn every_class_round_trips_through_the_registry() {
        for class in supported_classes() {
            let k = LayerKind::default_for(class).expect(class);
            let module = k.facts().module;
            if module == "keras.layers" {
                assert_eq!(k.class_name(), class);
            } else {
                assert_eq!(format!("{module}.{}", k.class_name()), class);
            }
        }
        assert!(!PALETTE.iter().any(|c| c.contains('.')));
        assert!(!PALETTE.contains(&"InputLayer"));
        assert!(PALETTE.contains(&"Add") && PALETTE.contains(&"Concatenate"));
        assert_eq!(canonical_class("Convolution2D"), Some("Conv2D"));
        assert_eq!(canonical_class("Conv3D"), None);
    }
}
