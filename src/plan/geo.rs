//! A convolution's or pooling's window geometry: which input pixel each
//! kernel tap of each output pixel reads. Shared by the lowering, the golden
//! kernels and every backend, so padding, stride and dilation are decided
//! once.

/// A 2-D window over an (H, W, C) tensor; 1-D layers have H = 1.
#[derive(Debug, Clone, PartialEq)]
pub struct Geo {
    pub in_h: usize,
    pub in_w: usize,
    pub cin: usize,
    pub out_h: usize,
    pub out_w: usize,
    pub cout: usize,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    pub dh: usize,
    pub dw: usize,
    pub pad_top: usize,
    pub pad_left: usize,
}

/// The window arithmetic every kernel and backend shares.
impl Geo {
    /// The input row kernel row `ky` of output row `oy` reads (None: padding).
    pub fn in_row(&self, oy: usize, ky: usize) -> Option<usize> {
        (oy * self.sh + ky * self.dh).checked_sub(self.pad_top).filter(|&v| v < self.in_h)
    }

    /// The input column kernel column `kx` of output column `ox` reads.
    pub fn in_col(&self, ox: usize, kx: usize) -> Option<usize> {
        (ox * self.sw + kx * self.dw).checked_sub(self.pad_left).filter(|&v| v < self.in_w)
    }

    /// A transposed convolution: the output row that input row `iy` writes
    /// through kernel row `ky` (None: cropped).
    pub fn out_row(&self, iy: usize, ky: usize) -> Option<usize> {
        (iy * self.sh + ky * self.dh).checked_sub(self.pad_top).filter(|&v| v < self.out_h)
    }

    /// The output column of input column `ix` through kernel column `kx`.
    pub fn out_col(&self, ix: usize, kx: usize) -> Option<usize> {
        (ix * self.sw + kx * self.dw).checked_sub(self.pad_left).filter(|&v| v < self.out_w)
    }

    /// ZeroPadding of an (H, W, C) or (T, C) tensor by spatial `pads`
    /// ((top, bottom), (left, right), or (left, right) in 1-D) as a 1×1
    /// window with padding: every padded pixel is one output position.
    pub fn zero_pad(in_shape: &[usize], pads: &[(usize, usize)]) -> Option<Geo> {
        let (h, w, c, (t, b), (l, r)) = match (in_shape, pads) {
            ([h, w, c], [ph, pw, ..]) => (*h, *w, *c, *ph, *pw),
            ([w, c], [pw, ..]) => (1, *w, *c, (0, 0), *pw),
            _ => return None,
        };
        Some(Geo { in_h: h, in_w: w, cin: c, out_h: h + t + b, out_w: w + l + r, cout: c, kh: 1, kw: 1, sh: 1, sw: 1, dh: 1, dw: 1, pad_top: t, pad_left: l })
    }

    /// Every kernel tap of output position (oy, ox) inside the input:
    /// `f(iy, ix, tap index ky * kw + kx)`.
    pub fn taps(&self, oy: usize, ox: usize, mut f: impl FnMut(usize, usize, usize)) {
        for ky in 0..self.kh {
            let Some(iy) = self.in_row(oy, ky) else { continue };
            for kx in 0..self.kw {
                let Some(ix) = self.in_col(ox, kx) else { continue };
                f(iy, ix, ky * self.kw + kx);
            }
        }
    }
}

