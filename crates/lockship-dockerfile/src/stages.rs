//! Stage building blocks shared by the strategies.

use crate::doc::{exec_form, kv, quote, Doc};
use crate::install::Ctx;
use crate::ProjectInstall;

/// `apt-get install` of `pkgs` with no recommends and no lists left behind.
pub(crate) fn apt_install(pkgs: &[String]) -> Vec<String> {
    if pkgs.is_empty() {
        return Vec::new();
    }
    vec![
        "apt-get update".to_string(),
        format!(
            "apt-get install -y --no-install-recommends {}",
            pkgs.join(" ")
        ),
        "rm -rf /var/lib/apt/lists/*".to_string(),
    ]
}

impl Ctx<'_> {
    /// The user is root.
    pub(crate) fn root(&self) -> bool {
        matches!(self.i.user.as_str(), "root" | "0")
    }

    /// `--chown=` for files the app owns in final stages.
    pub(crate) fn chown(&self) -> String {
        if self.root() {
            String::new()
        } else {
            format!("--chown={u}:{u} ", u = self.i.user)
        }
    }

    /// Creates the non-root user in a Debian-based stage.
    pub(crate) fn user_cmds(&self) -> Vec<String> {
        let u = &self.i.user;
        if self.root() {
            Vec::new()
        } else if u.bytes().all(|b| b.is_ascii_digit()) {
            vec![format!(
                "groupadd --system --gid {u} nonroot \
                 && useradd --system --uid {u} --gid {u} --no-create-home nonroot"
            )]
        } else {
            vec![format!(
                "groupadd --system {u} && useradd --system --gid {u} --no-create-home {u}"
            )]
        }
    }

    /// Debian packages a builder needs: a compiler (unless the image is the
    /// full one), the `-dev` packages and git with an SSH client.
    pub(crate) fn build_packages(&self, full_image: bool, git: bool) -> Vec<String> {
        let mut v = Vec::new();
        if self.i.needs_compiler && !full_image {
            v.push("build-essential".to_string());
        }
        v.extend(self.i.build_packages.iter().cloned());
        if git && self.ssh() {
            v.push("git".to_string());
            v.push("openssh-client".to_string());
        }
        v
    }

    /// Trusts the private git hosts' public keys. Only host keys: the
    /// private key stays in the agent, reached through `--mount=type=ssh`.
    pub(crate) fn known_hosts_cmds(&self) -> Vec<String> {
        if !self.ssh() {
            return Vec::new();
        }
        // The system-wide file OpenSSH reads for every user: no home directory needed.
        vec![
            "mkdir -p /etc/ssh".to_string(),
            format!(
                "ssh-keyscan {} >> /etc/ssh/ssh_known_hosts",
                self.i.git_ssh.join(" ")
            ),
        ]
    }

    /// `COPY` of the lock and its manifests, before any source.
    pub(crate) fn copy_lock(&self, doc: &mut Doc) {
        doc.ins(format!("COPY {} ./", self.lock_files().join(" ")));
    }

    /// `COPY` of the project's source into the working directory.
    pub(crate) fn copy_source(&self, doc: &mut Doc, chown: &str) {
        for p in &self.i.source_dirs {
            let p = p.trim_end_matches('/');
            doc.ins(format!("COPY {chown}{p} ./{p}"));
        }
    }

    /// The head of a stage that installs: index arguments, installer
    /// settings, build packages (unless `purge_later`), host keys, the venvs.
    pub(crate) fn builder_head(&mut self, doc: &mut Doc, full_image: bool, export: bool) {
        for a in self.index_args() {
            doc.ins(a);
        }
        doc.env(&self.builder_env());
        let mut pre = apt_install(&self.build_packages(full_image, true));
        pre.extend(self.known_hosts_cmds());
        doc.run(&[], &pre);
        let venv = self.venv_cmds(export);
        doc.run(&self.pip_mounts(), &venv);
        doc.env(&self.path_env(true));
        doc.ins(format!("WORKDIR {}", self.i.workdir));
        self.copy_lock(doc);
    }

    /// Run-time environment: unbuffered, no .pyc writes, the venv first on
    /// `PATH`, the working directory on `PYTHONPATH` for copied projects,
    /// then the project's own variables.
    /// `path`: also set `VIRTUAL_ENV` and `PATH` (single-stage strategies
    /// already have them).
    pub(crate) fn runtime_env(&self, path: bool) -> Vec<(String, String)> {
        let mut v = kv(&[("PYTHONDONTWRITEBYTECODE", "1"), ("PYTHONUNBUFFERED", "1")]);
        if path {
            v.extend(self.path_env(false));
        }
        if self.i.project_install == ProjectInstall::Copy {
            v.push(("PYTHONPATH".to_string(), self.i.workdir.clone()));
        }
        v.extend(self.i.env.iter().map(|(k, val)| (k.clone(), quote(val))));
        v
    }

    /// A Debian run-time stage's body: run-time packages and the user.
    /// `git`: also git, the SSH client and the git hosts' keys (single-stage
    /// strategies with private git dependencies).
    pub(crate) fn runtime_body(&self, doc: &mut Doc, git: bool) {
        let mut pkgs = self.i.runtime_packages.clone();
        if git && self.ssh() {
            pkgs.extend(["git".to_string(), "openssh-client".to_string()]);
        }
        let mut cmds = apt_install(&pkgs);
        if git {
            cmds.extend(self.known_hosts_cmds());
        }
        doc.run(&[], &cmds);
        doc.run(&[], &self.user_cmds());
    }

    /// The final stage's settings. `dev` runs the dev command; `user`
    /// overrides the input's user (distroless runs as 65532).
    pub(crate) fn final_meta(&self, doc: &mut Doc, dev: bool, user: &str) {
        for p in &self.i.ports {
            doc.ins(format!("EXPOSE {p}"));
        }
        if !self.i.labels.is_empty() {
            let parts: Vec<String> = self
                .i
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={}", quote(v)))
                .collect();
            doc.ins(format!("LABEL {}", parts.join(" \\\n      ")));
        }
        doc.ins(format!("USER {user}"));
        if dev && !self.i.dev_command.is_empty() {
            doc.ins(format!("CMD {}", exec_form(&self.i.dev_command)));
            return;
        }
        if !self.i.entrypoint.is_empty() {
            doc.ins(format!("ENTRYPOINT {}", exec_form(&self.i.entrypoint)));
        }
        if !self.i.cmd.is_empty() {
            doc.ins(format!("CMD {}", exec_form(&self.i.cmd)));
        }
    }

    /// Adds build packages before `cmds` and removes them after, in the
    /// same RUN, so the layer keeps none of them. (git and the SSH client
    /// stay: the project's install checks its git dependencies.)
    pub(crate) fn purged(&self, full_image: bool, cmds: Vec<String>) -> Vec<String> {
        let pkgs = self.build_packages(full_image, false);
        if pkgs.is_empty() {
            return cmds;
        }
        let mut v = vec![
            "apt-get update".to_string(),
            format!(
                "apt-get install -y --no-install-recommends {}",
                pkgs.join(" ")
            ),
        ];
        v.extend(cmds);
        v.push(format!("apt-get purge -y --auto-remove {}", pkgs.join(" ")));
        v.push("rm -rf /var/lib/apt/lists/*".to_string());
        v
    }
}
