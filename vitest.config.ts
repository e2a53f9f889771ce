// One vitest run for the whole workspace: every package is a project.
import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    projects: ["packages/*"],
    // Runs once per run (the root config's global setup is not inherited by the projects): one
    // local control plane shared by every package's integration tests. See the file for overrides.
    globalSetup: ["./tools/vitest/clusterSetup.ts"],
    reporters: ["default", "./tools/vitest/SummaryReporter.ts"]
  }
})
