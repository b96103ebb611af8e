//! Shapes, per-channel groups and broadcast scales for the data-dependent
//! (alpha = "auto" / "auto_po2") quantizers.

/// Which elements share one scale: QKeras reduces over every axis but the
/// kept one (channels-last: the last axis), or over all, or over none.
/// With `elements_per_scale`, `block` consecutive indices of the kept axis
/// share one scale too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Groups {
    All,
    PerElement,
    KeepAxis { axis: usize, block: usize },
}

/// A tensor seen as `outer × groups × inner` for one grouping: the group
/// of element `(o, g, j)` is `g`, and `j` runs over `inner` contiguous
/// elements (the rest of the kept axis's block and the axes after it).
struct Layout {
    outer: usize,
    groups: usize,
    inner: usize,
}

impl Groups {
    /// `_get_scaling_axis(scale_axis, ndim)`: keep `scale_axis`, or the last
    /// axis; a 0-D/1-D tensor reduces over nothing.
    pub fn scaling_axis(scale_axis: Option<usize>, ndim: usize) -> Groups {
        match scale_axis {
            Some(a) if a < ndim => Groups::KeepAxis { axis: a, block: 1 },
            Some(_) => Groups::All,
            None if ndim <= 1 => Groups::PerElement,
            None => Groups::KeepAxis { axis: ndim - 1, block: 1 },
        }
    }

    /// QKeras's `elements_per_scale`: `block` consecutive indices of
    /// `axis` per scale. The axis length must be a multiple of `block`.
    pub fn blocks(axis: usize, block: usize, shape: &[usize]) -> Result<Groups, String> {
        match shape.get(axis) {
            None => Err(format!("scale_axis {axis} is outside a tensor of shape {shape:?}")),
            Some(&d) if block == 0 || d % block != 0 => Err(format!(
                "scaling axis of dimension {d} has to be divisible by elements_per_scale={block}"
            )),
            Some(_) => Ok(Groups::KeepAxis { axis, block }),
        }
    }

    fn layout(&self, shape: &[usize]) -> Layout {
        let n: usize = shape.iter().product();
        match *self {
            Groups::All => Layout { outer: 1, groups: 1, inner: n },
            Groups::PerElement => Layout { outer: 1, groups: n, inner: 1 },
            Groups::KeepAxis { axis, block } => {
                let b = block.max(1);
                Layout {
                    outer: shape[..axis].iter().product(),
                    groups: shape[axis] / b,
                    inner: b * shape[axis + 1..].iter().product::<usize>(),
                }
            }
        }
    }

    pub fn count(&self, shape: &[usize]) -> usize {
        self.layout(shape).groups
    }

    /// The keepdims shape of a reduction, after QKeras repeats block scales
    /// back to one per index of the kept axis.
    pub fn kept_shape(&self, shape: &[usize]) -> Vec<usize> {
        match *self {
            Groups::All => vec![1; shape.len()],
            Groups::PerElement => shape.to_vec(),
            Groups::KeepAxis { axis, .. } => {
                shape.iter().enumerate().map(|(i, &d)| if i == axis { d } else { 1 }).collect()
            }
        }
    }

    /// One value per group to one per entry of [`Groups::kept_shape`]
    /// (`_repeat_along_axes`).
    pub fn repeat(&self, values: Vec<f32>) -> Vec<f32> {
        match *self {
            Groups::KeepAxis { block, .. } if block > 1 => {
                values.iter().flat_map(|&v| std::iter::repeat_n(v, block)).collect()
            }
            _ => values,
        }
    }

    /// The group of every flat (row-major) element.
    pub fn index(&self, shape: &[usize]) -> Vec<usize> {
        let l = self.layout(shape);
        let n = l.outer * l.groups * l.inner;
        (0..n).map(|i| (i / l.inner) % l.groups).collect()
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
    /// TensorFlow's CPU reduction uses, divided by the count (TF's
    /// reduce_mean is sum / n). TF first drops size-1 axes and merges
    /// neighbouring reduced ones, leaving `outer × groups × inner`:
    /// - one group: a full reduction ([`sum_inner`]);
    /// - no outer axis: each group's contiguous run ([`sum_inner`]);
    /// - no inner axis: the outer-axis reduction ([`sum_outer`]);
    /// - both (a middle axis kept, or elements_per_scale): Eigen's generic
    ///   reducer, one accumulator, the inner index in the outer loop.
    ///   Checked against TF on (R, G, n) shapes from 3×4×2 to 64×4×32.
    pub fn mean_prod(&self, a: &[f32], b: &[f32], shape: &[usize]) -> Vec<f32> {
        use super::tfmath::ftz;
        let p: Vec<f32> = a.iter().zip(b).map(|(x, y)| ftz(x * y)).collect();
        if *self == Groups::PerElement {
            return p;
        }
        let Layout { outer, groups, inner } = self.layout(shape);
        let sums: Vec<f32> = if groups == 1 {
            vec![sum_inner(&p, 0)]
        } else if outer == 1 {
            p.chunks(inner.max(1)).enumerate().map(|(g, c)| sum_inner(c, g * inner)).collect()
        } else if inner == 1 {
            sum_outer(&p, outer, groups)
        } else {
            (0..groups)
                .map(|g| {
                    let mut s = 0f32;
                    for j in 0..inner {
                        for o in 0..outer {
                            s = ftz(s + p[(o * groups + g) * inner + j]);
                        }
                    }
                    s
                })
                .collect()
        };
        let per = (outer * inner) as f32;
        sums.into_iter().map(|s| ftz(s / per)).collect()
    }
}

/// Eigen's `InnerMostDimReducer` (vectorized, tree) for float sums on AVX
/// (8 lanes), as in the Eigen headers TensorFlow 2.21 ships: runs over
/// 8 × 1024 values split at the packet-aligned middle (`first` is the run's
/// offset in the tensor, which sets that alignment); shorter runs use four
/// packet accumulators over blocks of 32 (folded into the first), then
/// whole packets, then a scalar tail, and return `tail + predux(packet)`
/// with `predux = ((v0+v4)+(v2+v6)) + ((v1+v5)+(v3+v7))`.
/// Checked against `tf.reduce_sum` for every length 1..300 and up to 50,001.
pub fn sum_inner(v: &[f32], first: usize) -> f32 {
    use super::tfmath::ftz;
    let n = v.len();
    if n > 8 * 1024 {
        let split = 8 * (first + n.div_ceil(2)).div_ceil(8);
        let left = (split - first).min(n);
        let mut acc = ftz(0.0 + sum_inner(&v[..left], first));
        if left < n {
            acc = ftz(acc + sum_inner(&v[left..], split));
        }
        return acc;
    }
    let add = |p: &mut [f32; 8], x: &[f32]| {
        for (a, b) in p.iter_mut().zip(x) {
            *a = ftz(*a + b);
        }
    };
    let mut p0 = [0f32; 8];
    let mut start = 0;
    if n >= 32 {
        let (mut p1, mut p2, mut p3) = ([0f32; 8], [0f32; 8], [0f32; 8]);
        let v4 = n / 32 * 32;
        for c in v[..v4].chunks_exact(32) {
            add(&mut p0, &c[..8]);
            add(&mut p1, &c[8..16]);
            add(&mut p2, &c[16..24]);
            add(&mut p3, &c[24..]);
        }
        add(&mut p0, &p1);
        add(&mut p0, &p2);
        add(&mut p0, &p3);
        start = v4;
    }
    let whole = n / 8 * 8;
    for c in v[start.min(whole)..whole].chunks_exact(8) {
        add(&mut p0, c);
    }
    let mut tail = 0f32;
    for x in &v[whole.max(start)..] {
        tail = ftz(tail + x);
    }
    let h: [f32; 4] = std::array::from_fn(|i| ftz(p0[i] + p0[i + 4]));
    ftz(tail + ftz(ftz(h[0] + h[2]) + ftz(h[1] + h[3])))
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
        assert_eq!(g, Groups::KeepAxis { axis: 1, block: 1 });
        assert_eq!(g.index(&shape), vec![0, 1, 2, 0, 1, 2]);
        assert_eq!(g.kept_shape(&shape), vec![1, 3]);
        assert_eq!(Groups::KeepAxis { axis: 0, block: 1 }.index(&shape), vec![0, 0, 0, 1, 1, 1]);
        let b = Groups::blocks(1, 2, &[2, 4]).unwrap();
        assert_eq!(b.index(&[2, 4]), vec![0, 0, 1, 1, 0, 0, 1, 1]);
        assert_eq!(b.repeat(vec![1.0, 2.0]), vec![1.0, 1.0, 2.0, 2.0]);
        assert!(Groups::blocks(1, 3, &[2, 4]).is_err());
        let s = Scale { shape: vec![3], values: vec![1.0, 2.0, 3.0] };
        assert_eq!(s.expand(&shape).unwrap(), vec![1.0, 2.0, 3.0, 1.0, 2.0, 3.0]);
        let s = Scale { shape: vec![2, 1], values: vec![1.0, 2.0] };
        assert_eq!(s.expand(&shape).unwrap(), vec![1.0, 1.0, 1.0, 2.0, 2.0, 2.0]);
        assert!(Scale { shape: vec![2], values: vec![1.0, 2.0] }.expand(&shape).is_err());
        let x = [1.0, -5.0, 2.0, -3.0, 4.0, 0.5];
        assert_eq!(g.max_abs(&x, &shape), vec![3.0, 5.0, 2.0]);
        assert_eq!(g.mean_prod(&x, &[1.0; 6], &shape), vec![-1.0, -0.5, 1.25]);
        assert_eq!(sum_inner(&[1.0; 20], 0), 20.0);
        assert_eq!(sum_inner(&[1.0; 20000], 0), 20000.0);
    }
}
