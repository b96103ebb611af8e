//! Shape inference and the weight shapes each layer must carry, both as
//! Keras computes them (channels_last, batch axis dropped).

use super::{BiMerge, Merge, Op, Padding, RnnCell, Shape, Window};

fn dilated(k: usize, d: usize) -> usize {
    (k - 1) * d + 1
}

/// Keras `conv_output_length`.
fn conv_len(n: usize, k: usize, s: usize, d: usize, p: Padding) -> Option<usize> {
    let k = dilated(k, d);
    match p {
        Padding::Same | Padding::Causal => Some(n.div_ceil(s)),
        Padding::Valid => (n >= k).then(|| (n - k) / s + 1),
    }
}

/// Keras `deconv_output_length`.
fn deconv_len(n: usize, k: usize, s: usize, d: usize, p: Padding, out_pad: Option<usize>) -> Option<usize> {
    let k = dilated(k, d);
    match out_pad {
        None => Some(match p {
            Padding::Valid => n * s + k.saturating_sub(s),
            _ => n * s,
        }),
        Some(op) => {
            let pad = if p == Padding::Valid { 0 } else { k / 2 };
            ((n.max(1) - 1) * s + k + op).checked_sub(2 * pad)
        }
    }
}

fn spatial(x: &Shape, rank: usize) -> Result<(&[usize], usize), String> {
    if x.len() != rank + 1 {
        return Err(format!("expects a {}-D input (spatial × channels), got shape {x:?}", rank + 1));
    }
    Ok((&x[..rank], x[rank]))
}

fn windowed(x: &Shape, w: &Window, out_channels: usize) -> Result<Shape, String> {
    let rank = w.kernel.len();
    let (sp, _) = spatial(x, rank)?;
    let mut out = Vec::with_capacity(rank + 1);
    for (i, &len) in sp.iter().enumerate().take(rank) {
        out.push(
            conv_len(len, w.kernel[i], w.strides[i], w.dilation[i], w.padding)
                .filter(|&n| n > 0)
                .ok_or_else(|| format!("the window {:?} does not fit the input {x:?}", w.kernel))?,
        );
    }
    out.push(out_channels);
    Ok(out)
}

/// The output shape of `op` on `ins`.
pub(super) fn infer(op: &Op, ins: &[Shape]) -> Result<Shape, String> {
    let one = || ins.first().cloned().ok_or_else(|| "has no input".to_string());
    Ok(match op {
        Op::Input => one()?,
        Op::Dense { units, .. } => {
            let mut s = one()?;
            if s.is_empty() {
                return Err("needs at least a 1-D input".into());
            }
            *s.last_mut().unwrap_or(&mut 0) = *units;
            s
        }
        Op::Conv { filters, window, .. } => windowed(&one()?, window, *filters)?,
        Op::Depthwise { multiplier, window, .. } => {
            let x = one()?;
            let c = spatial(&x, window.kernel.len())?.1;
            windowed(&x, window, c * multiplier)?
        }
        Op::Separable { filters, window, .. } => windowed(&one()?, window, *filters)?,
        Op::ConvTranspose { filters, window, output_padding, .. } => {
            let x = one()?;
            let rank = window.kernel.len();
            let (sp, _) = spatial(&x, rank)?;
            let mut out = vec![];
            for i in 0..rank {
                let op = output_padding.as_ref().map(|p| p[i]);
                out.push(
                    deconv_len(sp[i], window.kernel[i], window.strides[i], window.dilation[i], window.padding, op)
                        .filter(|&n| n > 0)
                        .ok_or("the transposed window does not fit the input")?,
                );
            }
            out.push(*filters);
            out
        }
        Op::Folded { inner, .. } => infer(inner, ins)?,
        Op::BatchNorm(_) | Op::Activation | Op::AdaptiveActivation { .. } | Op::Dropout | Op::ScaleShift { .. } => one()?,
        Op::Pool { pool, strides, padding, .. } => {
            let w = Window { kernel: pool.clone(), strides: strides.clone(), dilation: vec![1; pool.len()], padding: *padding };
            let x = one()?;
            let c = spatial(&x, pool.len())?.1;
            windowed(&x, &w, c)?
        }
        Op::GlobalPool { rank, keepdims, .. } => {
            let x = one()?;
            let c = spatial(&x, *rank)?.1;
            if *keepdims {
                let mut s = vec![1; *rank];
                s.push(c);
                s
            } else {
                vec![c]
            }
        }
        Op::Flatten => vec![one()?.iter().product()],
        Op::Reshape { target } => {
            let n: usize = one()?.iter().product();
            let known: i64 = target.iter().filter(|&&d| d >= 0).product();
            let free = target.iter().filter(|&&d| d < 0).count();
            let mut out = vec![];
            for &d in target {
                if d >= 0 {
                    out.push(d as usize);
                } else if known > 0 && n as i64 % known == 0 {
                    out.push((n as i64 / known) as usize);
                } else {
                    return Err(format!("cannot reshape {n} values to {target:?}"));
                }
            }
            if free > 1 || out.iter().product::<usize>() != n {
                return Err(format!("cannot reshape {n} values to {target:?}"));
            }
            out
        }
        Op::ZeroPadding { pads } => {
            let x = one()?;
            let (sp, c) = spatial(&x, pads.len())?;
            let mut out: Vec<usize> = sp.iter().zip(pads).map(|(n, (a, b))| n + a + b).collect();
            out.push(c);
            out
        }
        Op::Cropping { crops } => {
            let x = one()?;
            let (sp, c) = spatial(&x, crops.len())?;
            let mut out = vec![];
            for (n, (a, b)) in sp.iter().zip(crops) {
                match n.checked_sub(a + b) {
                    Some(m) if m > 0 => out.push(m),
                    _ => return Err(format!("cropping {a}+{b} from {n} leaves nothing")),
                }
            }
            out.push(c);
            out
        }
        Op::UpSampling { size } => {
            let x = one()?;
            let (sp, c) = spatial(&x, size.len())?;
            let mut out: Vec<usize> = sp.iter().zip(size).map(|(n, k)| n * k).collect();
            out.push(c);
            out
        }
        Op::Permute { dims } => {
            let x = one()?;
            let mut seen = vec![false; x.len()];
            let ok = dims.len() == x.len() && dims.iter().all(|&d| d >= 1 && d <= x.len() && !std::mem::replace(&mut seen[d - 1], true));
            if !ok {
                return Err(format!("Permute dims {dims:?} are not a permutation of 1..={} (input {x:?})", x.len()));
            }
            dims.iter().map(|&d| x[d - 1]).collect()
        }
        Op::Merge(m) => {
            if ins.len() < 2 {
                return Err("a merge needs at least two inputs".into());
            }
            match m {
                Merge::Concatenate(axis) => {
                    let mut out = ins[0].clone();
                    if *axis >= out.len() {
                        return Err(format!("concatenation axis {axis} is outside the shape {out:?}"));
                    }
                    for s in &ins[1..] {
                        let same_rest = s.len() == out.len()
                            && s.iter().zip(&out).enumerate().all(|(i, (a, b))| i == *axis || a == b);
                        if !same_rest {
                            return Err(format!("cannot concatenate {:?} and {s:?} on axis {axis}", ins[0]));
                        }
                        out[*axis] += s[*axis];
                    }
                    out
                }
                _ => {
                    if ins.iter().any(|s| s != &ins[0]) {
                        return Err(format!("inputs have different shapes {ins:?}"));
                    }
                    ins[0].clone()
                }
            }
        }
        Op::Rnn { units, return_sequences, .. } => {
            let x = one()?;
            if x.len() != 2 {
                return Err(format!("expects a (time, features) input, got {x:?}"));
            }
            if *return_sequences { vec![x[0], *units] } else { vec![*units] }
        }
        Op::Skipped { .. } => return Err("a layer qkhw does not build".into()),
        Op::OutputPart { parts, .. } => {
            let mut s = one()?;
            match s.last_mut() {
                Some(l) if *l % parts == 0 => *l /= parts,
                _ => return Err(format!("cannot split a {s:?} output in {parts} parts")),
            }
            s
        }
        Op::Bidirectional { forward, merge, .. } => {
            let mut s = infer(forward, ins)?;
            if *merge == BiMerge::Concat
                && let Some(l) = s.last_mut() {
                    *l *= 2;
                }
            s
        }
    })
}

/// The shapes of the weights a layer must carry, in Keras order, with
/// their names.
pub(super) fn weights(op: &Op, input: &Shape) -> Result<Vec<(&'static str, Shape)>, String> {
    let last = input.last().copied().unwrap_or(0);
    let with_bias = |mut v: Vec<(&'static str, Shape)>, b: bool, n: usize| {
        if b {
            v.push(("bias", vec![n]));
        }
        v
    };
    let kern = |w: &Window, a: usize, b: usize| {
        let mut k = w.kernel.clone();
        k.extend([a, b]);
        k
    };
    Ok(match op {
        Op::Dense { units, use_bias, .. } => with_bias(vec![("kernel", vec![last, *units])], *use_bias, *units),
        Op::Conv { filters, window, use_bias, .. } => {
            with_bias(vec![("kernel", kern(window, last, *filters))], *use_bias, *filters)
        }
        Op::ConvTranspose { filters, window, use_bias, .. } => {
            with_bias(vec![("kernel", kern(window, *filters, last))], *use_bias, *filters)
        }
        Op::Depthwise { multiplier, window, use_bias, .. } => {
            with_bias(vec![("depthwise_kernel", kern(window, last, *multiplier))], *use_bias, last * multiplier)
        }
        Op::Separable { filters, multiplier, window, use_bias, .. } => {
            let mut pw = vec![1; window.kernel.len()];
            pw.extend([last * multiplier, *filters]);
            with_bias(
                vec![("depthwise_kernel", kern(window, last, *multiplier)), ("pointwise_kernel", pw)],
                *use_bias,
                *filters,
            )
        }
        Op::Folded { inner, bn } => {
            let mut v = weights(inner, input)?;
            let c = infer(inner, std::slice::from_ref(input))?.last().copied().unwrap_or(0);
            v.extend(bn_weights(bn.scale, bn.center, c));
            v
        }
        Op::BatchNorm(bn) => bn_weights(bn.scale, bn.center, last),
        Op::ScaleShift { use_bias, .. } => {
            let mut v = vec![("weight", vec![1, 1])];
            if *use_bias {
                v.push(("bias", vec![1, 1]));
            }
            v
        }
        Op::Rnn { cell, units, use_bias, reset_after, .. } => {
            let g = match cell {
                RnnCell::Simple => 1,
                RnnCell::Lstm => 4,
                RnnCell::Gru => 3,
            };
            let mut v = vec![("kernel", vec![last, g * units]), ("recurrent_kernel", vec![*units, g * units])];
            if *use_bias {
                v.push(("bias", if *cell == RnnCell::Gru && *reset_after { vec![2, g * units] } else { vec![g * units] }));
            }
            v
        }
        Op::Bidirectional { forward, backward, .. } => {
            let mut v = weights(forward, input)?;
            v.extend(weights(backward, input)?);
            v
        }
        // QAdaptiveActivation keeps moving-average state, checked by count only.
        _ => vec![],
    })
}

fn bn_weights(scale: bool, center: bool, c: usize) -> Vec<(&'static str, Shape)> {
    let mut v = vec![];
    if scale {
        v.push(("gamma", vec![c]));
    }
    if center {
        v.push(("beta", vec![c]));
    }
    v.push(("moving_mean", vec![c]));
    v.push(("moving_variance", vec![c]));
    v
}
