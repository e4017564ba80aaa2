//! Groups of layers the graph canvas can collapse into one node: the layers sharing a
//! name prefix at a `_` boundary, as keras.applications names its stages and blocks
//! (`conv2` ⊃ `conv2_block1` ⊃ `conv2_block1_1_conv`; `block_3` in MobileNetV2,
//! `block2a` in EfficientNet). A group collapses only when it is convex — no path leaves
//! it and comes back — so the collapsed drawing is still a graph with no cycle.
//!
//! [`ViewGraph`] is the network as drawn: every layer outside a collapsed group is a node,
//! every collapsed group one node, and the wires between them.

use super::network::{LayerId, Network};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Whether `name` belongs to the group `prefix` (is it, or starts with `prefix_`).
pub fn in_group(name: &str, prefix: &str) -> bool {
    name.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('_'))
}

/// The proper prefixes of `name` at `_` boundaries, shortest first:
/// `conv2_block1_1_conv` → `conv2`, `conv2_block1`, `conv2_block1_1`.
pub fn prefixes(name: &str) -> Vec<&str> {
    name.match_indices('_')
        .map(|(k, _)| &name[..k])
        .filter(|p| !p.is_empty())
        .collect()
}

/// The positions of the layers in group `prefix`.
pub fn members(net: &Network, prefix: &str) -> Vec<usize> {
    (0..net.len())
        .filter(|&i| in_group(&net.layers()[i].name, prefix))
        .collect()
}

/// Whether the layers `set` (a mask over positions) can be drawn as one node: no layer
/// outside it is fed (directly or not) by the set and also feeds it, and it holds no
/// input layer.
pub fn is_convex(net: &Network, set: &[bool]) -> bool {
    let n = net.len();
    if (0..n).any(|i| set[i] && net.layers()[i].kind.is_input()) {
        return false;
    }
    // Layers outside the set that depend on it (layers stand after their inputs).
    let mut below = vec![false; n];
    for i in 0..n {
        if set[i] {
            continue;
        }
        below[i] = net.layers()[i]
            .inputs()
            .iter()
            .filter_map(|&id| net.index_of(id))
            .any(|j| set[j] || below[j]);
    }
    // ...none of which may feed the set again.
    (0..n).all(|i| {
        !set[i]
            || net.layers()[i]
                .inputs()
                .iter()
                .filter_map(|&id| net.index_of(id))
                .all(|j| !below[j])
    })
}

/// Whether the layers at `positions` can be one card (see [`is_convex`]): at least two,
/// no input layer, no path leaving them and coming back.
pub fn can_group(net: &Network, positions: &[usize]) -> bool {
    let mut set = vec![false; net.len()];
    for &k in positions {
        if let Some(s) = set.get_mut(k) {
            *s = true;
        }
    }
    positions.len() >= 2 && is_convex(net, &set)
}

/// The groups layer `i` could collapse into, shortest prefix first: the prefixes of its
/// name shared by at least two layers that form a convex group. (Group, member count.)
pub fn groups_of(net: &Network, i: usize) -> Vec<(String, usize)> {
    let Some(l) = net.layers().get(i) else {
        return Vec::new();
    };
    prefixes(&l.name)
        .into_iter()
        .filter_map(|p| {
            let m = members(net, p);
            let mut set = vec![false; net.len()];
            for &k in &m {
                set[k] = true;
            }
            (m.len() >= 2 && m.len() < net.len() && is_convex(net, &set))
                .then(|| (p.to_string(), m.len()))
        })
        .collect()
}

/// A model's stages: the groups of the first name part (`conv1`, `pool1`, `conv2`, ...
/// in ResNet50), or of the first two when one group would hold most of the model
/// (MobileNetV2's `block_1`, `block_2`, ...). Only convex groups of two or more layers.
pub fn stages(net: &Network) -> Vec<String> {
    for parts in 1..=2 {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for l in net.layers() {
            if let Some(p) = prefixes(&l.name).get(parts - 1) {
                *counts.entry(p).or_default() += 1;
            }
        }
        let mut found: Vec<String> = Vec::new();
        for l in net.layers() {
            let Some(p) = prefixes(&l.name).get(parts - 1).copied() else {
                continue;
            };
            if counts.get(p).copied().unwrap_or(0) < 2 || found.iter().any(|f| f == p) {
                continue;
            }
            let m = members(net, p);
            let mut set = vec![false; net.len()];
            for &k in &m {
                set[k] = true;
            }
            if is_convex(net, &set) {
                found.push(p.to_string());
            }
        }
        let biggest = found
            .iter()
            .map(|p| members(net, p).len())
            .max()
            .unwrap_or(0);
        if !found.is_empty() && biggest * 2 <= net.len() {
            return found;
        }
    }
    Vec::new()
}

/// One node of the drawing.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    Layer(usize),
    /// A collapsed group: its prefix and member positions.
    Group {
        prefix: String,
        members: Vec<usize>,
    },
}

/// The network as drawn with some groups collapsed.
#[derive(Clone, Debug, PartialEq)]
pub struct ViewGraph {
    pub nodes: Vec<Node>,
    /// The node each layer is drawn in.
    pub node_of: Vec<usize>,
    /// Wires: (producer layer, from node, to node), one per producer and consumer node.
    pub wires: Vec<(usize, usize, usize)>,
    /// The groups collapsed (those that still apply).
    pub collapsed: BTreeSet<String>,
}

impl ViewGraph {
    /// `net` with the groups in `collapsed` drawn as one node each (groups that are not
    /// convex, have fewer than two layers or overlap one taken earlier are left open).
    /// With nothing collapsed, node `i` is layer `i`.
    pub fn new(net: &Network, collapsed: &BTreeSet<String>) -> ViewGraph {
        ViewGraph::with_groups(net, collapsed, &BTreeMap::new())
    }

    /// [`ViewGraph::new`] with groups made by the user besides the name-prefix ones:
    /// `custom` names a set of layers (by id); a collapsed name found there is that set.
    pub fn with_groups(
        net: &Network,
        collapsed: &BTreeSet<String>,
        custom: &BTreeMap<String, BTreeSet<LayerId>>,
    ) -> ViewGraph {
        let n = net.len();
        let mut group_of: Vec<Option<usize>> = vec![None; n];
        let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
        let mut applied = BTreeSet::new();
        for p in collapsed {
            let m = match custom.get(p) {
                Some(ids) => {
                    let mut m: Vec<usize> = ids.iter().filter_map(|&id| net.index_of(id)).collect();
                    m.sort_unstable();
                    m
                }
                None => members(net, p),
            };
            if m.len() < 2 || m.iter().any(|&k| group_of[k].is_some()) {
                continue;
            }
            let mut set = vec![false; n];
            for &k in &m {
                set[k] = true;
            }
            if !is_convex(net, &set) {
                continue;
            }
            for &k in &m {
                group_of[k] = Some(groups.len());
            }
            applied.insert(p.clone());
            groups.push((p.clone(), m));
        }
        // Nodes in model order, a group where its first layer stands.
        let mut nodes = Vec::new();
        let mut node_of = vec![0; n];
        let mut group_node: Vec<Option<usize>> = vec![None; groups.len()];
        for i in 0..n {
            match group_of[i] {
                None => {
                    node_of[i] = nodes.len();
                    nodes.push(Node::Layer(i));
                }
                Some(g) => {
                    let at = *group_node[g].get_or_insert_with(|| {
                        nodes.push(Node::Group {
                            prefix: groups[g].0.clone(),
                            members: groups[g].1.clone(),
                        });
                        nodes.len() - 1
                    });
                    node_of[i] = at;
                }
            }
        }
        let mut wires = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for i in 0..n {
            for j in net.inputs_of(i) {
                let (a, b) = (node_of[j], node_of[i]);
                if a != b && seen.insert((j, b)) {
                    wires.push((j, a, b));
                }
            }
        }
        ViewGraph {
            nodes,
            node_of,
            wires,
            collapsed: applied,
        }
    }

    /// The layers a group's wires leave from (outputs of the group used outside it, or
    /// model outputs); for a layer node, the layer.
    pub fn outputs_of(&self, net: &Network, node: usize) -> Vec<usize> {
        match &self.nodes[node] {
            Node::Layer(i) => vec![*i],
            Node::Group { members, .. } => {
                let outs = net.outputs();
                members
                    .iter()
                    .copied()
                    .filter(|&k| {
                        outs.contains(&k)
                            || net.consumers_of(k).iter().any(|&c| self.node_of[c] != node)
                    })
                    .collect()
            }
        }
    }

    /// The layers outside a group that feed it.
    pub fn inputs_of(&self, net: &Network, node: usize) -> Vec<usize> {
        let mut v: Vec<usize> = self
            .wires
            .iter()
            .filter(|w| w.2 == node)
            .map(|w| w.0)
            .collect();
        v.dedup();
        let _ = net;
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resnet50() -> Network {
        crate::io::config::from_json_str(include_str!(
            "../../tests/fixtures/applications/resnet50.json"
        ))
        .expect("ResNet50's config")
    }

    #[test]
    fn prefixes_stop_at_underscores() {
        assert_eq!(
            prefixes("conv2_block1_1_conv"),
            ["conv2", "conv2_block1", "conv2_block1_1"]
        );
        assert!(prefixes("flatten").is_empty());
        assert!(in_group("conv2_block1_out", "conv2_block1"));
        assert!(!in_group("conv2_block10_out", "conv2_block1"));
    }

    #[test]
    fn resnet50_collapses_by_stage_into_a_chain() {
        let net = resnet50();
        let s = stages(&net);
        assert_eq!(s, ["conv1", "pool1", "conv2", "conv3", "conv4", "conv5"]);
        let v = ViewGraph::new(&net, &s.iter().cloned().collect());
        // input, 6 stages, avg_pool, predictions.
        assert_eq!(v.nodes.len(), 9, "{:?}", v.nodes);
        assert_eq!(v.wires.len(), 8);
        let conv3 = v
            .nodes
            .iter()
            .position(|n| matches!(n, Node::Group { prefix, .. } if prefix == "conv3"))
            .unwrap();
        let outs = v.outputs_of(&net, conv3);
        assert_eq!(net.layers()[outs[0]].name, "conv3_block4_out");
        // Nothing collapsed: one node per layer, in order.
        let open = ViewGraph::new(&net, &BTreeSet::new());
        assert_eq!(open.node_of, (0..net.len()).collect::<Vec<_>>());
    }

    #[test]
    fn a_layer_offers_its_block_and_stage() {
        let net = resnet50();
        let i = net.find("conv3_block2_2_conv").unwrap();
        let g: Vec<String> = groups_of(&net, i).into_iter().map(|(p, _)| p).collect();
        assert_eq!(g, ["conv3", "conv3_block2", "conv3_block2_2"]);
    }

    #[test]
    fn a_group_made_by_hand_collapses_like_a_prefix_group() {
        let net = resnet50();
        let picked: Vec<usize> = [
            "conv2_block1_1_conv",
            "conv2_block1_1_bn",
            "conv2_block1_1_relu",
        ]
        .iter()
        .map(|n| net.find(n).unwrap())
        .collect();
        assert!(can_group(&net, &picked));
        // The first convolutions of two consecutive blocks: the path between them
        // leaves the set and comes back, so they cannot be one card.
        let apart = [
            net.find("conv2_block1_1_conv").unwrap(),
            net.find("conv2_block2_1_conv").unwrap(),
        ];
        assert!(!can_group(&net, &apart));
        let ids: BTreeSet<LayerId> = picked.iter().map(|&i| net.layers()[i].id()).collect();
        let custom: BTreeMap<String, BTreeSet<LayerId>> = [("mine".to_string(), ids)].into();
        let v = ViewGraph::with_groups(&net, &["mine".to_string()].into(), &custom);
        assert_eq!(v.nodes.len(), net.len() - 2);
        assert_eq!(v.collapsed.len(), 1);
    }

    #[test]
    fn a_group_a_path_leaves_and_reenters_is_not_convex() {
        // in -> a_1 -> mid -> a_2, with a_1 also feeding a_2: {a_1, a_2} cannot be one
        // node (mid would be both below and above it).
        let mut layers = vec![(
            crate::model::Layer::new("InputLayer", "in").unwrap(),
            vec![],
        )];
        layers.push((
            crate::model::Layer::new("ReLU", "a_1").unwrap(),
            vec!["in".into()],
        ));
        layers.push((
            crate::model::Layer::new("ReLU", "mid").unwrap(),
            vec!["a_1".into()],
        ));
        layers.push((
            crate::model::Layer::new("Add", "a_2").unwrap(),
            vec!["mid".into(), "a_1".into()],
        ));
        let net = Network::from_named("g", true, layers, &["a_2".into()]).unwrap();
        assert!(groups_of(&net, 1).is_empty());
        let v = ViewGraph::new(&net, &["a".to_string()].into());
        assert_eq!(v.nodes.len(), 4);
        assert!(v.collapsed.is_empty());
    }
}
