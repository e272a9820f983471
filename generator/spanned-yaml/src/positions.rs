//! The positions of a loaded document: a tree parallel to the value, looked up by JSON pointer.
//!
//! Each node holds its own spans and its children (by key for a mapping, by index for a
//! sequence), so the memory is linear in the input. An alias is one leaf at the alias: the nodes
//! it copies have no positions of their own, and lookups below it fall back to the alias.

use std::collections::BTreeMap;

use crate::Span;

/// Where a node is: its value, and its key when it is a mapping entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NodeSpans {
    /// The key of the mapping entry holding the node, if any.
    pub key: Option<Span>,
    /// The node itself (for a collection, its first character, with length zero).
    pub value: Span,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Node {
    pub(crate) spans: NodeSpans,
    pub(crate) children: Children,
}

#[derive(Debug, Clone, Default)]
pub(crate) enum Children {
    #[default]
    Leaf,
    Seq(Vec<Node>),
    Map(BTreeMap<String, Node>),
}

/// The position of every node of one document, by JSON pointer (`""` is the root).
#[derive(Debug, Clone, Default)]
pub struct Positions {
    pub(crate) root: Option<Node>,
}

/// The result of [`Positions::nearest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found<'a> {
    /// The spans of the deepest node on the pointer's path that exists.
    pub spans: &'a NodeSpans,
    /// How many pointer segments were matched (0: the root).
    pub depth: usize,
    /// Whether the whole pointer was matched.
    pub exact: bool,
}

impl Positions {
    /// The spans of the node at `pointer`, if there is one.
    pub fn get(&self, pointer: &str) -> Option<&NodeSpans> {
        self.nearest(pointer)
            .filter(|found| found.exact)
            .map(|found| found.spans)
    }

    /// The spans of the node at `pointer`, or of its nearest ancestor that exists. `None` only when
    /// the document is empty. A pointer that does not start with `/` matches the root.
    pub fn nearest(&self, pointer: &str) -> Option<Found<'_>> {
        let mut node = self.root.as_ref()?;
        let mut depth = 0;
        let Some(rest) = pointer.strip_prefix('/') else {
            return Some(Found {
                spans: &node.spans,
                depth,
                exact: pointer.is_empty(),
            });
        };
        for segment in rest.split('/') {
            let child = match &node.children {
                Children::Leaf => None,
                Children::Seq(items) => index(segment).and_then(|i| items.get(i)),
                Children::Map(entries) => entries.get(unescape(segment).as_str()),
            };
            match child {
                Some(child) => {
                    node = child;
                    depth += 1;
                }
                None => {
                    return Some(Found {
                        spans: &node.spans,
                        depth,
                        exact: false,
                    });
                }
            }
        }
        Some(Found {
            spans: &node.spans,
            depth,
            exact: true,
        })
    }

    /// The number of nodes with a position (aliases count as one).
    pub fn len(&self) -> usize {
        fn count(node: &Node) -> usize {
            1 + match &node.children {
                Children::Leaf => 0,
                Children::Seq(items) => items.iter().map(count).sum(),
                Children::Map(entries) => entries.values().map(count).sum(),
            }
        }
        self.root.as_ref().map_or(0, count)
    }

    /// Whether the document is empty.
    pub fn is_empty(&self) -> bool {
        self.root.is_none()
    }
}

impl std::ops::Index<&str> for Positions {
    type Output = NodeSpans;

    /// The spans at `pointer`; panics when there is no node there (like indexing a map).
    fn index(&self, pointer: &str) -> &NodeSpans {
        match self.get(pointer) {
            Some(spans) => spans,
            None => panic!("no node at JSON pointer `{pointer}`"),
        }
    }
}

/// A sequence index as written in a JSON pointer: decimal, no leading zero.
fn index(segment: &str) -> Option<usize> {
    let canonical = segment == "0"
        || (!segment.starts_with('0')
            && !segment.is_empty()
            && segment.bytes().all(|b| b.is_ascii_digit()));
    canonical.then(|| segment.parse().ok()).flatten()
}

fn unescape(segment: &str) -> String {
    if segment.contains('~') {
        segment.replace("~1", "/").replace("~0", "~")
    } else {
        segment.to_owned()
    }
}
