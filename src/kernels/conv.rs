//! Conv2D's strategy choice: Winograd for wide 3×3 stride-1 layers, the direct register
//! tiles for layers with few taps and filters, im2col + GEMM for everything else.

use super::ConvOp;
use super::direct::{conv2d_direct, direct_wins};
use super::epilogue::Epilogue;
use super::im2col::conv2d_gemm;
use super::winograd;
use ndarray::Array4;

/// Convolution of NHWC `x` with an HWIO kernel `(kh, kw, cin/groups, cout)`, with the
/// bias and activation fused into the pass that writes each block. Wide 3×3 stride-1
/// layers use Winograd ([`winograd::choose`]) when input and kernel are
/// [`winograd::tame`] (finite, below 1e20), layers with few taps and filters
/// (see [`direct_wins`]) [`conv2d_direct`]; the rest im2col + GEMM:
///
/// Output pixels are cut into blocks; each block's patches are gathered (im2col, whole
/// kernel rows at once when they lie inside the input) into a per-thread buffer that
/// fits in L2, multiplied by the kernel in place (it already is the (kh·kw·cin) × cout
/// matrix GEMM needs, so nothing is packed per call), and written once. Blocks run in
/// parallel on rayon's pool; a layer with too few blocks lets the GEMM split instead.
/// 1×1 stride-1 convolutions skip im2col: the input already is the patch matrix.
pub fn conv2d(op: ConvOp, groups: usize, epilogue: Epilogue) -> Array4<f32> {
    let (x, kernel, win) = (op.x, op.kernel, op.win);
    let (kh, kw, cin_g, cout) = kernel.dim();
    // One input channel per group (ConvNeXt's 7×7 Conv2D with `groups` = channels) is a
    // depthwise convolution: the kernel (kh, kw, 1, groups·m) is, in memory, the
    // depthwise kernel (kh, kw, groups, m) — output channel g·m + j of group g. As grouped
    // GEMMs of one input channel each it ran at 0.26 GMAC/s.
    if groups > 1 && cin_g == 1 && cout % groups == 0 && x.dim().3 == groups {
        let ks = kernel.as_standard_layout();
        if let Ok(k) = ks
            .view()
            .into_shape_with_order((kh, kw, groups, cout / groups))
        {
            let mut y = super::depthwise(ConvOp {
                x,
                kernel: k,
                bias: op.bias,
                win,
                then: &[],
            });
            if let Some(s) = y.as_slice_mut() {
                epilogue.apply(s, cout, None);
                super::Pointwise::apply_chain_to(op.then, s, cout);
            }
            return y;
        }
    }
    if let Some(v) = winograd::choose([kh, kw], win, groups, cin_g, cout)
        && winograd::tame(x)
        && winograd::tame(kernel)
    {
        return winograd::conv(v, op, epilogue);
    }
    if groups <= 1 && direct_wins(kh * kw * cin_g, cout) {
        conv2d_direct(op, epilogue)
    } else {
        conv2d_gemm(op, groups, epilogue)
    }
}
