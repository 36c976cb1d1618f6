"""Workflows over the store and the engine: enroll, register, import, run, post, dispute,
statements. The CLI and the web call these through `paymaster.workspace.Workspace`."""
