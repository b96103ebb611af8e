//! Shapes, per-channel groups and broadcast scales for the data-dependent
//! (alpha = "auto" / "auto_po2") quantizers.

/// Which elements share one scale: QKeras reduces over every axis but the
/// kept one (channels-last: the last axis), or over all, or over none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Groups {
    All,
    PerElement,
    KeepAxis(usize),
}

impl Groups {
    /// `_get_scaling_axis(scale_axis, ndim)`: keep `scale_axis`, or the last
    /// axis; a 0-D/1-D tensor reduces over nothing.
    pub fn scaling_axis(scale_axis: Option<usize>, ndim: usize) -> Groups {
        match scale_axis {
            Some(a) if a < ndim => Groups::KeepAxis(a),
            Some(_) => Groups::All,
            None if ndim <= 1 => Groups::PerElement,
            None => Groups::KeepAxis(ndim - 1),
        }
    }

    pub fn count(&self, shape: &[usize]) -> usize {
        match *self {
            Groups::All => 1,
            Groups::PerElement => shape.iter().product(),
            Groups::KeepAxis(a) => shape[a],
        }
    }

    /// The keepdims shape of a reduction.
    pub fn kept_shape(&self, shape: &[usize]) -> Vec<usize> {
        match *self {
            Groups::All => vec![1; shape.len()],
            Groups::PerElement => shape.to_vec(),
            Groups::KeepAxis(a) => {
                shape.iter().enumerate().map(|(i, &d)| if i == a { d } else { 1 }).collect()
            }
        }
    }

    /// The group of every flat (row-major) element.
    pub fn index(&self, shape: &[usize]) -> Vec<usize> {
        let n: usize = shape.iter().product();
        match *self {
            Groups::All => vec![0; n],
            Groups::PerElement => (0..n).collect(),
            Groups::KeepAxis(a) => {
                let inner: usize = shape[a + 1..].iter().product();
                let d = shape[a];
                (0..n).map(|i| (i / inner) % d).collect()
            }
        }
    }

    /// `max(|x|)` per group.
    pub fn max_abs(&self, x: &[f32], shape: &[usize]) -> Vec<f32> {
        self.reduce_max(x.iter().map(|v| v.abs()), shape)
    }

    /// `max(x)` per group, NaN-propagating like `tf.reduce_max`.
    pub fn reduce_max(&self, x: impl Iterator<Item = f32>, shape: &[usize]) -> Vec<f32> {
        let idx = self.index(shape);
        let mut out = vec![f32::NEG_INFINITY; self.count(shape)];
        for (v, &g) in x.zip(idx.iter()) {
            out[g] = super::ops::maximum(out[g], v);
        }
        out
    }

    /// `mean(a * b)` per group: float32 products, summed in the order
    /// TensorFlow's CPU reduction uses (see [`sum_outer`], [`sum_inner`]),
    /// divided by the count (TF's reduce_mean is sum / n).
    pub fn mean_prod(&self, a: &[f32], b: &[f32], shape: &[usize]) -> Vec<f32> {
        let p: Vec<f32> = a.iter().zip(b).map(|(x, y)| super::tfmath::ftz(x * y)).collect();
        let n = p.len();
        let sums: Vec<f32> = match *self {
            Groups::PerElement => return p,
            Groups::All => vec![sum_inner(&p)],
            Groups::KeepAxis(ax) if ax + 1 == shape.len() => {
                let c = shape[ax].max(1);
                if c == 1 { vec![sum_inner(&p)] } else { sum_outer(&p, n / c, c) }
            }
            Groups::KeepAxis(ax) => {
                // Reduce the axes before and after `ax`: for each kept index,
                // gather its elements in row-major order. Only the `outer == 1`
                // case (keep the first axis) is checked against TF (golden
                // `scale_axis=0`); the middle-axis order is a best guess.
                let inner: usize = shape[ax + 1..].iter().product();
                let d = shape[ax];
                let outer = n / (d * inner).max(1);
                (0..d)
                    .map(|k| {
                        let v: Vec<f32> = (0..outer)
                            .flat_map(|o| (0..inner).map(move |i| (o * d + k) * inner + i))
                            .map(|i| p[i])
                            .collect();
                        if outer == 1 { sum_inner(&v) } else { sum_outer(&v, outer, inner).iter().fold(0.0, |s, v| s + v) }
                    })
                    .collect()
            }
        };
        let per = (n / self.count(shape).max(1)) as f32;
        sums.into_iter().map(|s| super::tfmath::ftz(s / per)).collect()
    }
}

/// Eigen's vectorized full reduction of a contiguous run (AVX, 8 lanes):
/// one packet accumulator over whole packets, a scalar accumulator over the
/// tail, then the scalar plus the packet's horizontal sum
/// (`(v0+v4)+(v2+v6)` and `(v1+v5)+(v3+v7)`). Runs over 1024 values are
/// split in two halves first (Eigen's tree reduction).
pub fn sum_inner(v: &[f32]) -> f32 {
    use super::tfmath::ftz;
    if v.len() > 1024 {
        let half = v.len().div_ceil(2).div_ceil(8) * 8;
        let (l, r) = v.split_at(half.min(v.len()));
        return ftz(sum_inner(l) + sum_inner(r));
    }
    let vec = (v.len() / 8) * 8;
    let mut lanes = [0f32; 8];
    for chunk in v[..vec].chunks_exact(8) {
        for (l, x) in lanes.iter_mut().zip(chunk) {
            *l = ftz(*l + x);
        }
    }
    let mut tail = 0f32;
    for x in &v[vec..] {
        tail = ftz(tail + x);
    }
    let h: [f32; 4] = std::array::from_fn(|i| ftz(lanes[i] + lanes[i + 4]));
    let t0 = ftz(h[0] + h[2]);
    let t1 = ftz(h[1] + h[3]);
    ftz(tail + ftz(t0 + t1))
}

/// Eigen's reduction of the outer axis of a `rows × cols` row-major block,
/// per column. Columns in whole 8-lane packets with at least 16 rows use
/// four accumulators over rows `i % 4` (summed a0+a1+a2+a3), then the
/// leftover rows; other columns add rows in order.
pub fn sum_outer(v: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    use super::tfmath::ftz;
    let packed = (cols / 8) * 8;
    (0..cols)
        .map(|c| {
            let col = |i: usize| v[i * cols + c];
            if c < packed && rows >= 16 {
                let unrolled = (rows / 4) * 4;
                let mut acc = [0f32; 4];
                for i in 0..unrolled {
                    acc[i % 4] = ftz(acc[i % 4] + col(i));
                }
                let mut s = ftz(ftz(ftz(acc[0] + acc[1]) + acc[2]) + acc[3]);
                for i in unrolled..rows {
                    s = ftz(s + col(i));
                }
                s
            } else {
                (0..rows).fold(0f32, |s, i| ftz(s + col(i)))
            }
        })
        .collect()
}

/// A scale broadcast against a tensor numpy-style (right-aligned).
#[derive(Debug, Clone, PartialEq)]
pub struct Scale {
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

impl Scale {
    pub fn scalar(v: f32) -> Scale {
        Scale { shape: vec![], values: vec![v] }
    }

    /// The scale of every element of a tensor of `shape`, or an error
    /// message if the shapes do not broadcast.
    pub fn expand(&self, shape: &[usize]) -> Result<Vec<f32>, String> {
        let n: usize = shape.iter().product();
        if self.values.len() == 1 {
            return Ok(vec![self.values[0]; n]);
        }
        if self.shape.len() > shape.len() {
            return Err(format!("scale of shape {:?} does not broadcast to {:?}", self.shape, shape));
        }
        let off = shape.len() - self.shape.len();
        let mut strides = vec![0usize; shape.len()];
        let mut s = 1;
        for i in (0..self.shape.len()).rev() {
            let (sd, td) = (self.shape[i], shape[off + i]);
            if sd != 1 && sd != td {
                return Err(format!(
                    "scale of shape {:?} does not broadcast to {:?}",
                    self.shape, shape
                ));
            }
            strides[off + i] = if sd == 1 { 0 } else { s };
            s *= sd;
        }
        let mut out = Vec::with_capacity(n);
        let mut coord = vec![0usize; shape.len()];
        for _ in 0..n {
            let k: usize = coord.iter().zip(&strides).map(|(c, s)| c * s).sum();
            out.push(self.values[k]);
            for d in (0..shape.len()).rev() {
                coord[d] += 1;
                if coord[d] < shape[d] {
                    break;
                }
                coord[d] = 0;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_and_broadcast() {
        let shape = [2, 3];
        let g = Groups::scaling_axis(None, 2);
        assert_eq!(g, Groups::KeepAxis(1));
        assert_eq!(g.index(&shape), vec![0, 1, 2, 0, 1, 2]);
        assert_eq!(g.kept_shape(&shape), vec![1, 3]);
        assert_eq!(Groups::KeepAxis(0).index(&shape), vec![0, 0, 0, 1, 1, 1]);
        let s = Scale { shape: vec![3], values: vec![1.0, 2.0, 3.0] };
        assert_eq!(s.expand(&shape).unwrap(), vec![1.0, 2.0, 3.0, 1.0, 2.0, 3.0]);
        let s = Scale { shape: vec![2, 1], values: vec![1.0, 2.0] };
        assert_eq!(s.expand(&shape).unwrap(), vec![1.0, 1.0, 1.0, 2.0, 2.0, 2.0]);
        assert!(Scale { shape: vec![2], values: vec![1.0, 2.0] }.expand(&shape).is_err());
        let x = [1.0, -5.0, 2.0, -3.0, 4.0, 0.5];
        assert_eq!(g.max_abs(&x, &shape), vec![3.0, 5.0, 2.0]);
        assert_eq!(g.mean_prod(&x, &[1.0; 6], &shape), vec![-1.0, -0.5, 1.25]);
        assert_eq!(sum_inner(&[1.0; 20]), 20.0);
    }
}
