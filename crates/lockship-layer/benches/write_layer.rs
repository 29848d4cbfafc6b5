//! Times `write_layer` over a generated tree of about 5000 files.
//!
//! `cargo bench -p lockship-layer` runs the full size; under `cargo test
//! --benches` (no `--bench` argument) it runs a small tree once, as a smoke
//! test.

use std::fs;
use std::path::Path;
use std::time::Instant;

use lockship_layer::{write_layer, Compression, LayerOptions};

/// Writes `files` files spread over nested directories, about `avg` bytes
/// each, with text-like content that compresses roughly as source code does.
fn generate(root: &Path, files: usize, avg: usize) -> u64 {
    let words: [&[u8]; 12] = [
        b"def ",
        b"return ",
        b"self",
        b".value",
        b" = ",
        b"import ",
        b"os\n",
        b"    ",
        b"(x, y)",
        b"# comment\n",
        b"None",
        b"\n",
    ];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut total = 0;
    for i in 0..files {
        let dir = root.join(format!("pkg{:02}/sub{:02}", i % 50, (i / 50) % 20));
        fs::create_dir_all(&dir).unwrap();
        let size = (next() as usize % (2 * avg)) + 1;
        let mut body = Vec::with_capacity(size + 16);
        while body.len() < size {
            body.extend_from_slice(words[next() as usize % words.len()]);
            if next() % 5 == 0 {
                body.extend_from_slice(format!("{}", next() % 1000).as_bytes());
            }
        }
        total += body.len() as u64;
        fs::write(dir.join(format!("module_{i}.py")), body).unwrap();
    }
    total
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (files, avg, runs) = if full {
        (5000, 8 * 1024, 3)
    } else {
        (200, 1024, 1)
    };
    let root = tempfile::tempdir().unwrap();
    let bytes = generate(root.path(), files, avg);
    println!(
        "tree: {files} files, {:.1} MB of contents",
        bytes as f64 / 1e6
    );
    for compression in [Compression::None, Compression::Gzip, Compression::Zstd] {
        let options = LayerOptions::new(compression, 0);
        let mut best = f64::MAX;
        let mut layer = None;
        for _ in 0..runs {
            let out = tempfile::tempdir().unwrap();
            let start = Instant::now();
            let written = write_layer(root.path(), &options, out.path()).unwrap();
            best = best.min(start.elapsed().as_secs_f64());
            layer = Some(written);
        }
        let layer = layer.unwrap();
        println!(
            "{:>4}: {:>7.3} s  {:>7.1} MB/s of tar  ({:.1} MB -> {:.1} MB)",
            compression.name(),
            best,
            layer.uncompressed_size as f64 / 1e6 / best,
            layer.uncompressed_size as f64 / 1e6,
            layer.size as f64 / 1e6,
        );
    }
}
