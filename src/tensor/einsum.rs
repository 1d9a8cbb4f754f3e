//! `torch.einsum`: equation parsing, ellipses, diagonals, and pairwise contraction lowered to
//! broadcasting batched matmuls.

use super::Tensor;
use crate::error::{Error, Result};

/// `torch.einsum`: parses the equation, sums labels used by one operand only, and contracts
/// operands pairwise with broadcasting batched matmuls.
pub fn einsum(equation: &str, operands: &[Tensor]) -> Result<Tensor> {
    let eq: String = equation.chars().filter(|c| !c.is_whitespace()).collect();
    let (lhs, rhs) = match eq.split_once("->") {
        Some((l, r)) => (l.to_string(), Some(r.to_string())),
        None => (eq.clone(), None),
    };
    let specs: Vec<&str> = lhs.split(',').collect();
    super::check_same_device("einsum", &operands.iter().collect::<Vec<_>>())?;
    if specs.len() != operands.len() {
        return Err(Error::Runtime(format!(
            "einsum(): more operands were provided than specified in the equation ({} vs {})",
            operands.len(),
            specs.len()
        )));
    }
    // Expand "..." into private labels (uppercase-free range beyond 'z').
    let mut ell_dims = Vec::with_capacity(specs.len());
    for (k, (t, s)) in operands.iter().zip(&specs).enumerate() {
        let named = s.chars().count();
        ell_dims.push(if s.contains("...") {
            (t.ndim() + 3).checked_sub(named).ok_or_else(|| {
                Error::Runtime(format!(
                    "einsum(): the number of subscripts in the equation ({}) is more than the number of dimensions ({}) for operand {k}",
                    named - 3,
                    t.ndim()
                ))
            })?
        } else {
            0
        });
    }
    let max_ell = ell_dims.iter().copied().max().unwrap_or(0);
    let ell: Vec<char> = (0..max_ell)
        .map(|i| char::from_u32(0x100 + i as u32).unwrap_or('?'))
        .collect();
    let mut labels: Vec<Vec<char>> = Vec::new();
    for ((t, s), &n) in operands.iter().zip(&specs).zip(&ell_dims) {
        let l: Vec<char> = if let Some((a, b)) = s.split_once("...") {
            let mut v: Vec<char> = a.chars().collect();
            v.extend(&ell[max_ell - n..]);
            v.extend(b.chars());
            v
        } else {
            s.chars().collect()
        };
        if l.len() != t.ndim() {
            return Err(Error::Runtime(format!(
                "einsum(): the number of subscripts in the equation ({}) does not match the number of dimensions ({}) for operand {} and no ellipsis was given",
                l.len(),
                t.ndim(),
                labels.len()
            )));
        }
        labels.push(l);
    }
    let out_labels: Vec<char> = match rhs {
        Some(r) => {
            if let Some((a, b)) = r.split_once("...") {
                let mut v: Vec<char> = a.chars().collect();
                v.extend(&ell);
                v.extend(b.chars());
                v
            } else {
                r.chars().collect()
            }
        }
        None => {
            let mut counts = std::collections::BTreeMap::new();
            for l in &labels {
                for &c in l {
                    *counts.entry(c).or_insert(0) += 1;
                }
            }
            let mut v: Vec<char> = ell.clone();
            v.extend(
                counts
                    .into_iter()
                    .filter(|&(c, n)| n == 1 && (c as u32) < 0x100)
                    .map(|(c, _)| c),
            );
            v
        }
    };
    // Every subscript must have one size across operands.
    let mut seen: std::collections::HashMap<char, usize> = std::collections::HashMap::new();
    for (k, (t, l)) in operands.iter().zip(&labels).enumerate() {
        for (&c, &n) in l.iter().zip(t.shape()) {
            match seen.get(&c) {
                Some(&m) if m != n && !((c as u32) >= 0x100 && (m == 1 || n == 1)) => {
                    return Err(Error::Runtime(format!(
                        "einsum(): subscript {c} has size {n} for operand {k} which does not broadcast with previously seen size {m}"
                    )));
                }
                Some(&m) if m != 1 => {}
                _ => {
                    seen.insert(c, n);
                }
            }
        }
    }
    // A subscript repeated within one operand takes that operand's diagonal.
    let mut cur: Vec<(Tensor, Vec<char>)> = Vec::new();
    for (t, l) in operands.iter().zip(labels) {
        let (mut t, mut l) = (t.clone(), l);
        while let Some((i, j)) =
            (0..l.len()).find_map(|j| l[..j].iter().position(|&c| c == l[j]).map(|i| (i, j)))
        {
            let c = l[i];
            t = t.diagonal(0, i as i64, j as i64)?;
            l = l
                .iter()
                .enumerate()
                .filter(|&(k, _)| k != i && k != j)
                .map(|(_, &x)| x)
                .collect();
            l.push(c);
        }
        cur.push((t, l));
    }
    // Sum labels that appear in a single operand and not in the output.
    for i in 0..cur.len() {
        let others: Vec<char> = cur
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .flat_map(|(_, (_, l))| l.clone())
            .collect();
        let (t, l) = &cur[i];
        let drop: Vec<i64> = l
            .iter()
            .enumerate()
            .filter(|(_, c)| !others.contains(c) && !out_labels.contains(c))
            .map(|(k, _)| k as i64)
            .collect();
        if !drop.is_empty() {
            let nt = t.sum_dims(&drop, false, None)?;
            let nl: Vec<char> = l
                .iter()
                .enumerate()
                .filter(|(k, _)| !drop.contains(&(*k as i64)))
                .map(|(_, &c)| c)
                .collect();
            cur[i] = (nt, nl);
        }
    }
    while cur.len() > 1 {
        let (b, lb) = cur.remove(1);
        let (a, la) = cur.remove(0);
        let rest: Vec<char> = cur.iter().flat_map(|(_, l)| l.clone()).collect();
        let keep = |c: &char| out_labels.contains(c) || rest.contains(c);
        let batch: Vec<char> = la
            .iter()
            .filter(|c| lb.contains(c) && keep(c))
            .copied()
            .collect();
        let contr: Vec<char> = la
            .iter()
            .filter(|c| lb.contains(c) && !keep(c))
            .copied()
            .collect();
        let ao: Vec<char> = la.iter().filter(|c| !lb.contains(c)).copied().collect();
        let bo: Vec<char> = lb.iter().filter(|c| !la.contains(c)).copied().collect();
        let pos = |l: &[char], c: char| l.iter().position(|&x| x == c).unwrap_or(0) as i64;
        let size = |t: &Tensor, l: &[char], c: char| t.shape()[pos(l, c) as usize];
        let pa: Vec<i64> = batch
            .iter()
            .chain(&ao)
            .chain(&contr)
            .map(|&c| pos(&la, c))
            .collect();
        let pb: Vec<i64> = batch
            .iter()
            .chain(&contr)
            .chain(&bo)
            .map(|&c| pos(&lb, c))
            .collect();
        let at = a.permute(&pa)?;
        let bt = b.permute(&pb)?;
        let bsa: Vec<i64> = batch.iter().map(|&c| size(&a, &la, c) as i64).collect();
        let bsb: Vec<i64> = batch.iter().map(|&c| size(&b, &lb, c) as i64).collect();
        let m: i64 = ao.iter().map(|&c| size(&a, &la, c) as i64).product();
        let k: i64 = contr.iter().map(|&c| size(&a, &la, c) as i64).product();
        let n: i64 = bo.iter().map(|&c| size(&b, &lb, c) as i64).product();
        let mut sa = bsa.clone();
        sa.extend([m, k]);
        let mut sb = bsb.clone();
        sb.extend([k, n]);
        let r = at.reshape(&sa)?.matmul(&bt.reshape(&sb)?)?;
        let mut rs: Vec<i64> = r.shape()[..batch.len()].iter().map(|&s| s as i64).collect();
        rs.extend(ao.iter().map(|&c| size(&a, &la, c) as i64));
        rs.extend(bo.iter().map(|&c| size(&b, &lb, c) as i64));
        let r = r.reshape(&rs)?;
        let mut lr = batch.clone();
        lr.extend(&ao);
        lr.extend(&bo);
        cur.insert(0, (r, lr));
    }
    let (t, l) = cur.remove(0);
    let perm: Vec<i64> = out_labels
        .iter()
        .map(|c| {
            l.iter().position(|x| x == c).map(|p| p as i64).ok_or_else(|| {
                Error::Runtime(format!("einsum(): output subscript {c} does not appear in the equation for any input operand"))
            })
        })
        .collect::<Result<_>>()?;
    t.permute(&perm)
}
