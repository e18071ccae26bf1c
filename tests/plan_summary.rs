//! The structured plan summary (`ChunkedArray::plan_summary`): what `explain()` prints, as
//! data. Tests elsewhere assert on it instead of parsing the text.

use chunkwise::ndarray::ArrayD;
use chunkwise::prelude::*;
use chunkwise::{OpKind, RechunkRun};

fn rt(limit: usize) -> Runtime {
    Runtime::builder()
        .threads(1)
        .memory_limit(limit)
        .build()
        .unwrap()
}

#[test]
fn explain_text_is_the_summary_rendered() {
    let x =
        ChunkedArray::<f64>::from_shape_fn(&[8, 6], [4, 3], |i| (i[0] * 10 + i[1]) as f64).unwrap();
    let y = (&x * 2.0).sum_axis(0).unwrap();
    let r = rt(1 << 20);
    assert_eq!(y.explain_for(&r), y.plan_summary(&r).to_string());
    let text = y.explain();
    assert!(text.starts_with("optimized graph ("), "{text}");
    assert!(text.contains("as written ("), "{text}");
}

#[test]
fn counts_tasks_by_operation_outputs_and_memory() {
    let x = ChunkedArray::<f64>::from_fn(&[8, 6], [4, 3], |r: &Region| ArrayD::ones(r.shape()))
        .unwrap();
    let y = (&x + 1.0).sum_axis(1).unwrap();
    let plan = y.plan_summary(&rt(1 << 20));
    // 4 blocks read, each with its partial sum (the +1 fuses into the partials), then the
    // partials of each row band combined: one output block per row band.
    assert_eq!(plan.output_blocks, 2, "{plan}");
    assert_eq!(plan.reads(), 4, "{plan}");
    assert_eq!(
        plan.tasks,
        plan.tasks_by_op.values().sum::<usize>(),
        "{plan}"
    );
    let reduce = plan
        .optimized_of(OpKind::Reduce)
        .next()
        .expect("a reduce node");
    assert!(plan.tasks_by_op[&reduce.op] >= 2, "{plan}");
    assert_eq!(plan.memory_limit, 1 << 20);
    assert!(plan.projected_peak_bytes > 0 && plan.fits(), "{plan}");
    assert!(
        plan.largest_task_bytes <= plan.projected_peak_bytes,
        "{plan}"
    );
    // The root comes first in both graphs; the optimized one has no more nodes.
    assert_eq!(plan.optimized[0].shape, [8]);
    assert_eq!(plan.as_written[0].shape, [8]);
    assert!(plan.optimized.len() <= plan.as_written.len(), "{plan}");
}

#[test]
fn shared_sources_are_read_once_and_memory_sources_in_place() {
    let x = ChunkedArray::<f64>::from_fn(&[8, 8], [4, 4], |r: &Region| ArrayD::ones(r.shape()))
        .unwrap();
    let y = (&x * &x).unwrap();
    let plan = y.plan_summary(&rt(1 << 20));
    assert_eq!(plan.reads_by_source.len(), 1, "{plan}");
    assert_eq!(plan.reads(), 4, "{plan}");
    let m = ChunkedArray::from_ndarray(ArrayD::<f64>::ones(vec![8, 8]), [4, 4]).unwrap();
    let plan = (&m + 1.0).plan_summary(&rt(1 << 20));
    assert!(plan.reads_by_source.is_empty(), "{plan}");
    assert_eq!(plan.tasks, 4, "{plan}");
}

#[test]
fn rechunks_say_direct_or_staged_for_the_limit() {
    let x =
        ChunkedArray::<f32>::from_shape_fn(&[64, 32, 32], [1, 32, 32], |i| i[0] as f32).unwrap();
    let y = x.t().t().rechunk([64, 8, 8]).unwrap();
    // 256 KiB of f32: direct at 64 MiB, staged at 64 KiB.
    let big = y.plan_summary(&rt(64 << 20));
    assert_eq!(big.rechunks.len(), 1, "{big}");
    assert_eq!(big.staged_rechunks(), 0, "{big}");
    let r = &big.rechunks[0];
    assert!(matches!(r.run, RechunkRun::Direct { max_task_bytes } if max_task_bytes > 0));
    assert_eq!(r.to.chunk_shape(), [64, 8, 8]);
    assert_eq!(r.from.chunk_shape(), [1, 32, 32]);
    let small = y.plan_summary(&rt(64 << 10));
    assert_eq!(small.staged_rechunks(), 1, "{small}");
    match &small.rechunks[0].run {
        RechunkRun::Staged {
            stages,
            passes,
            max_task_bytes,
        } => {
            assert!(!stages.is_empty());
            assert_eq!(*passes, stages.len() + 1);
            assert!(*max_task_bytes <= 32 << 10, "{small}");
        }
        other => panic!("expected a staged rechunk, got {other:?}\n{small}"),
    }
}
