#!/usr/bin/env node
// The `tenant-operator` executable.
import { Manager } from "@kleff/k8s"
import { main } from "./cli/main.ts"
import { stopWithParent } from "./cli/ParentLink.ts"

stopWithParent()
Manager.runMain(main)
