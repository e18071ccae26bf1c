//! Printing plans: `explain()` text and Graphviz DOT.

use super::lower::{
    Root, direct_rechunk, gather_task_bytes, group_order, plan_within, rechunk_stages,
};
use super::node::{NodeRef, Op};
use super::optimize::optimize;
use crate::exec::report::human_bytes;
use std::collections::{BTreeMap, HashSet};
use std::fmt::Write;
use std::sync::Arc;

/// Nodes reachable from `roots`, each once, consumers before inputs.
fn topo(roots: &[NodeRef]) -> Vec<NodeRef> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut stack: Vec<NodeRef> = roots.iter().rev().cloned().collect();
    while let Some(n) = stack.pop() {
        if !seen.insert(Arc::as_ptr(&n)) {
            continue;
        }
        for i in n.inputs().into_iter().rev() {
            stack.push(i.clone());
        }
        out.push(n);
    }
    out
}

fn write_graph(s: &mut String, title: &str, roots: &[NodeRef]) {
    let nodes = topo(roots);
    let _ = writeln!(s, "{title} ({} nodes):", nodes.len());
    for n in &nodes {
        let inputs: Vec<String> = n.inputs().iter().map(|i| format!("#{}", i.id)).collect();
        let _ = writeln!(
            s,
            "  #{} {} {} {:?} chunks {}{}",
            n.id,
            n.op_name(),
            n.dtype,
            n.shape,
            n.grid,
            if inputs.is_empty() {
                String::new()
            } else {
                format!(" <- {}", inputs.join(", "))
            }
        );
    }
}

pub(crate) fn explain(roots: &[NodeRef], limit: usize) -> String {
    let mut s = String::new();
    let opt = optimize(roots);
    write_graph(&mut s, "optimized graph", &opt);
    let mut staged = false;
    for n in topo(&opt) {
        if let Op::Rechunk { input } = &n.op {
            match rechunk_stages(&n, limit) {
                Some(plan) => {
                    staged = true;
                    let _ = writeln!(
                        s,
                        "#{} {plan}\n  (intermediates are written to temporary Zarr arrays, one run \
                         per pass; the tasks below are the last pass's reads before staging)",
                        n.id
                    );
                }
                None => {
                    let _ = writeln!(
                        s,
                        "#{} rechunk {} → {}: direct (one gather pass), max task {}",
                        n.id,
                        input.grid,
                        n.grid,
                        human_bytes(gather_task_bytes(&input.grid, &n.grid, n.dtype.size()))
                    );
                }
            }
        }
    }
    write_graph(&mut s, "as written", roots);
    let (plan, fits) = plan_within(
        &opt.iter()
            .map(|n| Root {
                node: n.clone(),
                direct: true,
                order: if direct_rechunk(n, limit) {
                    group_order(n)
                } else {
                    None
                },
            })
            .collect::<Vec<_>>(),
        limit,
    );
    let mut by_op: BTreeMap<String, usize> = BTreeMap::new();
    for t in &plan.tasks {
        *by_op.entry(t.label.to_string()).or_default() += 1;
    }
    let largest = (0..plan.tasks.len())
        .map(|t| plan.task_bytes(t))
        .max()
        .unwrap_or(0);
    let _ = writeln!(s, "tasks: {}", plan.tasks.len());
    for (op, n) in by_op {
        let _ = writeln!(s, "  {n:>8} × {op}");
    }
    let _ = writeln!(
        s,
        "largest task: {}; projected peak (one thread, into memory): {}",
        human_bytes(largest),
        human_bytes(plan.projected_peak())
    );
    // A staged plan runs pass by pass, each checked on its own.
    if let (Err(e), false) = (fits, staged) {
        let _ = writeln!(
            s,
            "does not fit the memory limit of {}: {e}",
            human_bytes(limit)
        );
    }
    s
}

pub(crate) fn to_dot(roots: &[NodeRef]) -> String {
    let opt = optimize(roots);
    let mut s = String::from(
        "digraph chunkwise {\n  rankdir=BT;\n  node [shape=box, fontname=\"monospace\"];\n",
    );
    for n in topo(&opt) {
        let label = format!(
            "#{} {}\\n{} {:?}\\nchunks {}",
            n.id,
            n.op_name(),
            n.dtype,
            n.shape,
            n.grid
        )
        .replace('"', "\\\"");
        let shape = match n.op {
            Op::Source(_) => "cylinder",
            Op::Reduce(_) => "invtrapezium",
            Op::Scan { .. } => "cds",
            _ => "box",
        };
        let _ = writeln!(s, "  n{} [label=\"{}\", shape={}];", n.id, label, shape);
        for i in n.inputs() {
            let _ = writeln!(s, "  n{} -> n{};", i.id, n.id);
        }
    }
    s.push_str("}\n");
    s
}
