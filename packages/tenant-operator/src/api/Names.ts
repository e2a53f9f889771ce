/**
 * Kubernetes name rules as schemas and predicates: DNS-1123 labels and subdomains, and qualified
 * resource names. The CRD patterns are generated from these same regular expressions.
 */
import { Schema } from "effect"

/** `^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`, at most 63 characters: namespace names, label values, usernames. */
export const dns1123LabelPattern = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/u
export const dns1123LabelMaxLength = 63

/** Dot-separated DNS-1123 labels, at most 253 characters: the names of most Kubernetes objects. */
export const dns1123SubdomainPattern = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/u
export const dns1123SubdomainMaxLength = 253

/** A resource name as ResourceQuota keys use it: an optional DNS subdomain prefix and `/`, then a name. */
export const qualifiedResourceNamePattern =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/u

export const isDns1123Label = (value: string): boolean =>
  value.length <= dns1123LabelMaxLength && dns1123LabelPattern.test(value)

export const Dns1123Label = Schema.String.check(
  Schema.isMaxLength(dns1123LabelMaxLength),
  Schema.isPattern(dns1123LabelPattern, {
    expected:
      "a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit"
  })
)

export const Dns1123Subdomain = Schema.String.check(
  Schema.isMaxLength(dns1123SubdomainMaxLength),
  Schema.isPattern(dns1123SubdomainPattern, {
    expected:
      "a DNS-1123 subdomain: lower-case letters, digits, '-' and '.', starting and ending with a letter or digit"
  })
)

/**
 * A CEL rule for the CRD root: the object's own name is a DNS-1123 label. Tenant and Plan names
 * become label values and namespace names, which allow no more than 63 characters.
 */
export const nameIsDns1123LabelRule = (kind: string) => ({
  rule: `size(self.metadata.name) <= ${dns1123LabelMaxLength} && self.metadata.name.matches('${dns1123LabelPattern.source}')`,
  message: `a ${kind}'s name must be a DNS-1123 label (at most ${dns1123LabelMaxLength} lower-case letters, digits and '-'): it is used as a label value`
})

/** A CEL rule for the CRD root: the object's own name fits in a label value (at most 63 characters). */
export const nameFitsLabelValueRule = (kind: string) => ({
  rule: `size(self.metadata.name) <= ${dns1123LabelMaxLength}`,
  message: `a ${kind}'s name must be at most ${dns1123LabelMaxLength} characters: it is used as a label value`
})
