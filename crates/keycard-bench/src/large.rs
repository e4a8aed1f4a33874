//! The large dataset: the peer workload's kind of generator grown to 1,000,000 accounts, 100,000
//! groups nested five deep, 10,000 roles and 20 million memberships and grants.
//!
//! - Groups come in five levels of 20,000; every group below the first has one parent in the level
//!   above, so an account can inherit through up to five groups in a chain. Each group holds 2
//!   roles.
//! - Each account has 2 direct roles and is in 8 groups drawn from all levels.
//! - Each role is granted 970 distinct (action, type) cells out of 200 actions x 500 types; in
//!   Keycard that is one policy per type attached to every resource of it.
//! - Memberships: 1,000,000 x (2 + 8) + 100,000 x 2 roles + 80,000 parents = 10,280,000; grants:
//!   10,000 x 970 = 9,700,000; 19,980,000 in all.
//! - Queries: half allowed (one of the account's effective roles' grants), half denied (drawn until
//!   no effective role grants it), answers computed here, independently of Keycard.

use rand::rngs::StdRng;
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};

#[derive(Clone, Copy, Debug)]
pub struct LargeShape {
    pub accounts: usize,
    pub levels: usize,
    pub groups_per_level: usize,
    pub roles: usize,
    pub roles_per_account: usize,
    pub groups_per_account: usize,
    pub roles_per_group: usize,
    pub actions: usize,
    pub types: usize,
    pub grants_per_role: usize,
    pub queries: usize,
}

impl LargeShape {
    pub const LARGE: LargeShape = LargeShape {
        accounts: 1_000_000,
        levels: 5,
        groups_per_level: 20_000,
        roles: 10_000,
        roles_per_account: 2,
        groups_per_account: 8,
        roles_per_group: 2,
        actions: 200,
        types: 500,
        grants_per_role: 970,
        queries: 200_000,
    };

    pub fn groups(&self) -> usize {
        self.levels * self.groups_per_level
    }

    pub fn cells(&self) -> usize {
        self.actions * self.types
    }

    pub fn memberships(&self) -> usize {
        self.accounts * (self.roles_per_account + self.groups_per_account)
            + self.groups() * self.roles_per_group
            + (self.levels - 1) * self.groups_per_level
    }

    pub fn grants(&self) -> usize {
        self.roles * self.grants_per_role
    }
}

#[derive(Clone, Copy, Debug)]
pub struct LargeQuery {
    pub account: u32,
    pub action: u32,
    pub resource_type: u32,
    pub expected: bool,
}

/// Flat arrays (a stride per entity) keep the generator itself small in memory.
pub struct LargeWorkload {
    pub shape: LargeShape,
    /// `roles_per_account` role numbers per account.
    pub account_roles: Vec<u32>,
    /// `groups_per_account` group numbers per account.
    pub account_groups: Vec<u32>,
    /// The parent of each group (groups of the first level have none).
    pub group_parent: Vec<Option<u32>>,
    /// `roles_per_group` role numbers per group.
    pub group_roles: Vec<u32>,
    /// `grants_per_role` cells (`type * actions + action`) per role.
    pub role_cells: Vec<u32>,
    /// The roles granted each cell, ascending.
    pub cell_roles: Vec<Vec<u32>>,
    pub queries: Vec<LargeQuery>,
}

impl LargeWorkload {
    pub fn generate(shape: LargeShape, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let groups = shape.groups();
        let mut role_cells = Vec::with_capacity(shape.grants());
        let mut cell_roles: Vec<Vec<u32>> = vec![Vec::new(); shape.cells()];
        for role in 0..shape.roles {
            for cell in sample(&mut rng, shape.cells(), shape.grants_per_role) {
                role_cells.push(cell as u32);
                cell_roles[cell].push(role as u32);
            }
        }
        let group_parent = (0..groups)
            .map(|group| {
                let level = group / shape.groups_per_level;
                (level > 0).then(|| {
                    ((level - 1) * shape.groups_per_level
                        + rng.gen_range(0..shape.groups_per_level)) as u32
                })
            })
            .collect();
        let mut group_roles = Vec::with_capacity(groups * shape.roles_per_group);
        for _ in 0..groups {
            group_roles.extend(
                sample(&mut rng, shape.roles, shape.roles_per_group)
                    .into_iter()
                    .map(|r| r as u32),
            );
        }
        let mut account_roles = Vec::with_capacity(shape.accounts * shape.roles_per_account);
        let mut account_groups = Vec::with_capacity(shape.accounts * shape.groups_per_account);
        for _ in 0..shape.accounts {
            account_roles.extend(
                sample(&mut rng, shape.roles, shape.roles_per_account)
                    .into_iter()
                    .map(|r| r as u32),
            );
            account_groups.extend(
                sample(&mut rng, groups, shape.groups_per_account)
                    .into_iter()
                    .map(|g| g as u32),
            );
        }
        let mut workload = Self {
            shape,
            account_roles,
            account_groups,
            group_parent,
            group_roles,
            role_cells,
            cell_roles,
            queries: Vec::with_capacity(shape.queries),
        };
        while workload.queries.len() < shape.queries {
            let account = rng.gen_range(0..shape.accounts);
            let effective = workload.effective_roles(account);
            let allowed_turn = workload.queries.len().is_multiple_of(2);
            let cell = if allowed_turn {
                let role = effective[rng.gen_range(0..effective.len())] as usize;
                workload.role_cells
                    [role * shape.grants_per_role + rng.gen_range(0..shape.grants_per_role)]
                    as usize
            } else {
                rng.gen_range(0..shape.cells())
            };
            let expected = workload.cell_allows(cell, &effective);
            if expected == allowed_turn {
                workload.queries.push(LargeQuery {
                    account: account as u32,
                    action: (cell % shape.actions) as u32,
                    resource_type: (cell / shape.actions) as u32,
                    expected,
                });
            }
        }
        workload
    }

    pub fn roles_of_account(&self, account: usize) -> &[u32] {
        let n = self.shape.roles_per_account;
        &self.account_roles[account * n..(account + 1) * n]
    }

    pub fn groups_of_account(&self, account: usize) -> &[u32] {
        let n = self.shape.groups_per_account;
        &self.account_groups[account * n..(account + 1) * n]
    }

    pub fn roles_of_group(&self, group: usize) -> &[u32] {
        let n = self.shape.roles_per_group;
        &self.group_roles[group * n..(group + 1) * n]
    }

    /// Direct roles and those of every group the account is in, up each group's parent chain;
    /// ascending, without repeats.
    pub fn effective_roles(&self, account: usize) -> Vec<u32> {
        let mut roles: Vec<u32> = self.roles_of_account(account).to_vec();
        for group in self.groups_of_account(account) {
            let mut next = Some(*group);
            while let Some(group) = next {
                roles.extend_from_slice(self.roles_of_group(group as usize));
                next = self.group_parent[group as usize];
            }
        }
        roles.sort_unstable();
        roles.dedup();
        roles
    }

    pub fn cell_allows(&self, cell: usize, effective: &[u32]) -> bool {
        let granted = &self.cell_roles[cell];
        effective
            .iter()
            .any(|role| granted.binary_search(role).is_ok())
    }
}

pub fn group_name(group: usize) -> String {
    format!("group{group}")
}
