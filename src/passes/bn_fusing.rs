//! Which batch norms QKeras fuses into the layer before them for hardware
//! (`find_bn_fusing_layer_pair`): a QConv2D or QDepthwiseConv2D whose only
//! consumer is a QBatchNormalization. Never QDense (a TODO in QKeras).

use crate::ir::{Graph, LayerId};

/// (producer, batch norm) pairs, in layer order.
pub fn pairs(g: &Graph) -> Vec<(LayerId, LayerId)> {
    let mut out = vec![];
    for (i, l) in g.layers.iter().enumerate() {
        let id = LayerId(i);
        if !matches!(l.class.as_str(), "QConv2D" | "QDepthwiseConv2D") {
            continue;
        }
        let succ: Vec<LayerId> = g.successors(id).collect();
        // A model output also feeds QKeras's added sink node.
        let single = succ.len() == 1 && !g.outputs.contains(&id);
        if single && g.layers[succ[0].0].class == "QBatchNormalization" {
            out.push((id, succ[0]));
        }
    }
    out
}
