//! `qkhw._qkhw`: the native half of the Python package. Thin: every
//! function converts arrays at the boundary and calls the same library
//! functions the CLI calls, with the GIL released. The Pythonic API
//! (`qkhw.load`, `Model`, `Design`, `Report`) is in `python/qkhw/`.
//!
//! Errors: a qkhw error raises `qkhw.Error` (a `ValueError`) carrying the
//! CLI's one-line message; a panic (a bug in qkhw) is caught before PyO3
//! turns it into `PanicException`, which `except Exception` does not
//! catch, and raises `qkhw.Error` too.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

use numpy::{IntoPyArray, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use qkhw::golden::PredictOptions;
use qkhw::passes::config::Config;

create_exception!(
    qkhw,
    Error,
    PyValueError,
    "What qkhw could not do: the same one-line message as the `qkhw` command prints after `error:`."
);

fn raise(e: qkhw::Error) -> PyErr {
    Error::new_err(e.to_string())
}

/// Run `f` without the GIL; its error or panic becomes `qkhw.Error`.
fn detached<T: Send>(py: Python<'_>, f: impl FnOnce() -> qkhw::Result<T> + Send) -> PyResult<T> {
    match py.detach(|| catch_unwind(AssertUnwindSafe(f))) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(raise(e)),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("panic");
            Err(Error::new_err(format!("internal error (a bug in qkhw; please report it with the model): {msg}")))
        }
    }
}

/// A C-contiguous float32 view of `x` (borrowed, no copy, when it already
/// is one) and its shape.
fn float_input(x: &PyReadonlyArrayDyn<'_, f32>) -> (Vec<f32>, Vec<usize>, bool) {
    let shape = x.shape().to_vec();
    match x.as_slice() {
        Ok(_) => (vec![], shape, true),
        Err(_) => (x.as_array().iter().copied().collect(), shape, false),
    }
}

fn options(input_format: Option<&str>, config_json: Option<&str>, output_head: Option<&str>, threads: usize) -> qkhw::Result<PredictOptions> {
    let mut config = match config_json {
        Some(j) => Config::parse_json(j)?,
        None => Config::default(),
    };
    if let Some(h) = output_head {
        config.output_head = h.parse()?;
    }
    let input_format = input_format.map(str::parse).transpose()?;
    Ok(PredictOptions { input_format, threads, keep: None, progress: false, config })
}

fn codes_i64(codes: &[i128], layer: &str, fmt: &qkhw::fxp::FixedFormat) -> qkhw::Result<Vec<i64>> {
    codes
        .iter()
        .map(|&v| {
            i64::try_from(v).map_err(|_| {
                qkhw::Error::Usage(format!("codes: output `{layer}` is {fmt} and its code {v} does not fit in int64; use Model.dump(x, wide=True) for such layers"))
            })
        })
        .collect()
}

fn shaped<'py, T: numpy::Element>(py: Python<'py>, data: Vec<T>, shape: &[usize]) -> PyResult<Bound<'py, PyAny>> {
    let a = data.into_pyarray(py);
    Ok(a.reshape(shape.to_vec())?.into_any())
}

/// A model read by qkhw's own reader (`.keras`, legacy `.h5`, JSON +
/// weights), ready for the golden model.
#[pyclass(module = "qkhw._qkhw", frozen)]
struct NativeModel {
    g: qkhw::ir::Graph,
}

#[pymethods]
impl NativeModel {
    /// `keep_unbuilt`: keep the layers qkhw does not build (as `qkhw
    /// weights` and `qkhw inspect` do) instead of refusing the model; the
    /// golden model then refuses them, naming the layer.
    #[new]
    #[pyo3(signature = (path, internal_sigmoid, keep_unbuilt=false))]
    fn new(py: Python<'_>, path: PathBuf, internal_sigmoid: &str, keep_unbuilt: bool) -> PyResult<Self> {
        let sigmoid: qkhw::quant::InternalSigmoid = internal_sigmoid.parse().map_err(raise)?;
        let g = detached(py, || qkhw::load_graph(&path, qkhw::ir::BuildOptions { sigmoid, skip_unsupported: keep_unbuilt }))?;
        Ok(NativeModel { g })
    }

    #[getter]
    fn name(&self) -> &str {
        &self.g.name
    }

    #[getter]
    fn sha256(&self) -> &str {
        &self.g.sha256
    }

    /// `[(name, shape without the batch axis)]` of the inputs.
    fn inputs(&self) -> Vec<(String, Vec<usize>)> {
        self.g.inputs.iter().map(|i| (self.g.layers[i.0].name.clone(), self.g.layers[i.0].shape.clone())).collect()
    }

    /// `[(name, shape without the batch axis)]` of the outputs.
    fn outputs(&self) -> Vec<(String, Vec<usize>)> {
        self.g.outputs.iter().map(|i| (self.g.layers[i.0].name.clone(), self.g.layers[i.0].shape.clone())).collect()
    }

    /// The golden model on float32 inputs (one array per model input, in
    /// model order): one array per output, float32 values, or int64 codes
    /// with `codes`; plus each output's `(layer, format, frac)` and the
    /// notices.
    #[pyo3(signature = (xs, codes=false, input_format=None, config_json=None, output_head=None, threads=0))]
    #[allow(clippy::too_many_arguments, clippy::type_complexity)]
    fn predict<'py>(
        &self,
        py: Python<'py>,
        xs: Vec<PyReadonlyArrayDyn<'py, f32>>,
        codes: bool,
        input_format: Option<&str>,
        config_json: Option<&str>,
        output_head: Option<&str>,
        threads: usize,
    ) -> PyResult<(Vec<Bound<'py, PyAny>>, Vec<(String, String, i32)>, Vec<String>)> {
        let opts = options(input_format, config_json, output_head, threads).map_err(raise)?;
        // Borrowed from NumPy where C-contiguous (no copy); the arrays stay
        // read-only while the GIL is released (PyReadonlyArray holds them).
        let copies: Vec<(Vec<f32>, Vec<usize>, bool)> = xs.iter().map(float_input).collect();
        let mut views = vec![];
        for (x, (copy, shape, contiguous)) in xs.iter().zip(&copies) {
            let data: &[f32] = if *contiguous { x.as_slice().map_err(|e| Error::new_err(e.to_string()))? } else { copy };
            views.push((data, shape.as_slice()));
        }
        let g = &self.g;
        let (outs, meta, notices) = detached(py, move || {
            let arrays: Vec<(&[f32], &[usize])> = views.clone();
            let mut p = qkhw::golden::predict_inputs(g, &arrays, &opts)?;
            let n = arrays.first().map_or(0, |a| a.1[0]);
            let mut outs = vec![];
            let mut meta = vec![];
            for (k, &s) in p.plan.outputs.clone().iter().enumerate() {
                let step = &p.plan.steps[s];
                let mut oshape = vec![n];
                oshape.extend(&step.shape);
                let layer = step.layer.clone().unwrap_or_default();
                meta.push((layer.clone(), step.fmt.to_string(), step.fmt.frac));
                if codes {
                    outs.push((Out::Codes(codes_i64(p.run.codes(s), &layer, &step.fmt)?), oshape));
                } else {
                    outs.push((Out::Floats(std::mem::take(&mut p.run.floats[k])), oshape));
                }
            }
            Ok((outs, meta, p.plan.notices))
        })?;
        let arrays = outs
            .into_iter()
            .map(|(o, s)| match o {
                Out::Floats(v) => shaped(py, v, &s),
                Out::Codes(v) => shaped(py, v, &s),
            })
            .collect::<PyResult<_>>()?;
        Ok((arrays, meta, notices))
    }

    /// `qkeras.utils.model_save_quantized_weights(model)`: layer name ->
    /// {key: float32 array, list, str, bool or None}, in QKeras's order;
    /// and the notes (layers left out as QKeras leaves them out).
    fn quantized_weights<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyDict>, Vec<String>)> {
        let g = &self.g;
        let (d, notes) = detached(py, || qkhw::passes::hw_weights::quantized_weights_noted(g))?;
        let out = PyDict::new(py);
        for (layer, fields) in d.layers {
            let f = PyDict::new(py);
            for (k, v) in fields {
                f.set_item(k, entry(py, v)?)?;
            }
            out.set_item(layer, f)?;
        }
        Ok((out, notes))
    }

    /// `qkeras.utils.get_model_sparsity(model, per_layer=True)`:
    /// `(total, [(layer, fraction of zero weights)])`.
    fn sparsity(&self, py: Python<'_>) -> PyResult<(f32, Vec<(String, f32)>)> {
        let g = &self.g;
        let sp = detached(py, || qkhw::passes::sparsity::sparsity(g))?;
        let layers = sp.layers.iter().map(|(n, z, c)| (n.clone(), qkhw::passes::sparsity::fraction(*z, *c))).collect();
        Ok((sp.total(), layers))
    }

    /// `qkhw inspect --json` as a string.
    fn inspect_json(&self, py: Python<'_>) -> PyResult<String> {
        let g = &self.g;
        detached(py, || {
            let info = qkhw::inspect::inspect(g)?;
            serde_json::to_string(&info).map_err(|e| qkhw::Error::Internal(e.to_string()))
        })
    }

    /// Every layer's output (or those named): `[(layer, format, float32
    /// values, int64 codes or None where wider than 64 bits, frac)]`.
    #[pyo3(signature = (xs, layers, input_format=None, config_json=None, threads=0))]
    #[allow(clippy::type_complexity)]
    fn layer_outputs<'py>(
        &self,
        py: Python<'py>,
        xs: Vec<PyReadonlyArrayDyn<'py, f32>>,
        layers: Vec<String>,
        input_format: Option<&str>,
        config_json: Option<&str>,
        threads: usize,
    ) -> PyResult<(Vec<(String, String, Bound<'py, PyAny>, Option<Bound<'py, PyAny>>)>, Vec<String>)> {
        let opts = options(input_format, config_json, None, threads).map_err(raise)?;
        let arr = owned(&xs);
        let g = &self.g;
        let (outs, notes, _) = detached(py, || qkhw::golden::debug::layer_outputs(g, &arr, &opts, &layers))?;
        let mut res = vec![];
        for o in outs {
            let codes = if o.codes.iter().all(|&c| i64::try_from(c).is_ok()) {
                Some(shaped(py, o.codes.iter().map(|&c| c as i64).collect::<Vec<_>>(), &o.shape)?)
            } else {
                None
            };
            res.push((o.layer, o.fmt.to_string(), shaped(py, o.values, &o.shape)?, codes));
        }
        Ok((res, notes))
    }

    /// `qkhw debug`'s report (per-layer ranges and saturation counts).
    #[pyo3(signature = (xs, input_format=None, config_json=None, threads=0, plot=None))]
    fn debug(&self, py: Python<'_>, xs: Vec<PyReadonlyArrayDyn<'_, f32>>, input_format: Option<&str>, config_json: Option<&str>, threads: usize, plot: Option<PathBuf>) -> PyResult<String> {
        let opts = options(input_format, config_json, None, threads).map_err(raise)?;
        let arr = owned(&xs);
        let g = &self.g;
        detached(py, || qkhw::golden::debug::debug(g, &arr, &opts, plot.as_deref()).map(|r| r.0))
    }
}

/// Owned copies of the input arrays (for the per-layer calls, which keep
/// every layer's output anyway).
fn owned(xs: &[PyReadonlyArrayDyn<'_, f32>]) -> Vec<qkhw::npy::Array<f32>> {
    xs.iter().map(|x| qkhw::npy::Array { shape: x.shape().to_vec(), data: x.as_array().iter().copied().collect() }).collect()
}

enum Out {
    Floats(Vec<f32>),
    Codes(Vec<i64>),
}

fn entry<'py>(py: Python<'py>, e: qkhw::passes::hw_weights::Entry) -> PyResult<Bound<'py, PyAny>> {
    use qkhw::passes::hw_weights::Entry;
    Ok(match e {
        Entry::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
        Entry::Null => py.None().into_bound(py),
        Entry::Str(s) => s.into_pyobject(py)?.into_any(),
        Entry::Array(t) => shaped(py, t.data, &t.shape)?,
        Entry::List(v) => {
            let items = v.into_iter().map(|x| entry(py, x)).collect::<PyResult<Vec<_>>>()?;
            PyList::new(py, items)?.into_any()
        }
    })
}

/// Run the `qkhw` command line (`argv[0]` is the program name) and return
/// its exit code; a failing command raises `qkhw.Error` with its message.
/// `--help` and `--version` print and return 0.
#[pyfunction]
fn run_cli(py: Python<'_>, argv: Vec<String>) -> PyResult<u8> {
    let r = py.detach(|| catch_unwind(AssertUnwindSafe(|| qkhw::cli::run_args(argv))));
    match r {
        Ok(Ok(code)) => Ok(code),
        Ok(Err(e)) if e.is_info() => {
            e.print();
            Ok(0)
        }
        Ok(Err(e)) => Err(Error::new_err(e.message())),
        Err(_) => Err(Error::new_err("internal error (a bug in qkhw; please report it with the command line)")),
    }
}

/// The `qkhw` console script: the command line on `sys.argv`, exactly as
/// the Rust binary runs it (messages, exit codes).
#[pyfunction]
fn main(py: Python<'_>, argv: Vec<String>) -> u8 {
    py.detach(|| qkhw::cli::main(argv))
}

/// One QKeras quantizer on float32 data: the values, and with `codes` the
/// hardware view `(codes int64, signs int64 or None, scale float32 or
/// None, encoding text)`.
#[pyfunction]
#[pyo3(signature = (spec, x, internal_sigmoid="hard", codes=false))]
#[allow(clippy::type_complexity)]
fn quantize<'py>(
    py: Python<'py>,
    spec: &str,
    x: PyReadonlyArrayDyn<'py, f32>,
    internal_sigmoid: &str,
    codes: bool,
) -> PyResult<(Bound<'py, PyAny>, Option<(Bound<'py, PyAny>, Option<Bound<'py, PyAny>>, Option<Bound<'py, PyAny>>, String)>)> {
    let sigmoid: qkhw::quant::InternalSigmoid = internal_sigmoid.parse().map_err(raise)?;
    let shape = x.shape().to_vec();
    let data: Vec<f32> = x.as_array().iter().copied().collect();
    let (y, hw) = detached(py, || {
        let q = qkhw::quant::Quantizer::parse(spec, sigmoid)?;
        let y = q.apply_shaped(&data, &shape)?;
        let hw = if codes { Some(q.hardware(&data, &shape)?) } else { None };
        Ok((y, hw))
    })?;
    let y = shaped(py, y, &shape)?;
    let Some(hw) = hw else { return Ok((y, None)) };
    let enc = match &hw.encoding {
        qkhw::quant::Encoding::Fixed(f) => format!("{f}"),
        qkhw::quant::Encoding::Po2 { signed, min_exp, max_exp } => format!("po2(signed={signed}, exponents {min_exp}..={max_exp})"),
        qkhw::quant::Encoding::Table { index, values } => format!("table({index}, {} values)", values.len()),
    };
    let c = shaped(py, hw.codes, &shape)?;
    let signs = if hw.signs.is_empty() { None } else { Some(shaped(py, hw.signs.iter().map(|&s| s as i64).collect::<Vec<_>>(), &shape)?) };
    let scale = match hw.scale {
        Some(s) if s.values.iter().any(|&v| v != 1.0) => Some(shaped(py, s.values, &s.shape)?),
        _ => None,
    };
    Ok((y, Some((c, signs, scale, enc))))
}

#[pymodule]
fn _qkhw(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("Error", m.py().get_type::<Error>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<NativeModel>()?;
    m.add_function(wrap_pyfunction!(run_cli, m)?)?;
    m.add_function(wrap_pyfunction!(main, m)?)?;
    m.add_function(wrap_pyfunction!(quantize, m)?)?;
    // Keep the unused-import lint quiet for the array trait in all builds.
    let _ = std::marker::PhantomData::<PyArrayDyn<f32>>;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A panic inside the library must reach Python as `qkhw.Error` (a
    /// `ValueError`), not as PyO3's `PanicException`, which `except
    /// Exception` does not catch.
    #[test]
    fn a_panic_becomes_a_qkhw_error() {
        Python::initialize();
        Python::attach(|py| {
            let e = detached(py, || -> qkhw::Result<()> { panic!("boom in a kernel") }).unwrap_err();
            assert!(e.is_instance_of::<Error>(py) && e.is_instance_of::<PyValueError>(py));
            let msg = e.value(py).to_string();
            assert!(msg.contains("internal error") && msg.contains("boom in a kernel"), "{msg}");
            let e = detached(py, || -> qkhw::Result<()> { Err(qkhw::Error::Usage("a user error".into())) }).unwrap_err();
            assert_eq!(e.value(py).to_string(), "a user error");
        });
    }
}
