// One vitest run for the whole workspace: every package is a project.
import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    projects: ["packages/*"],
    reporters: ["default", "./tools/vitest/SummaryReporter.ts"]
  }
})
