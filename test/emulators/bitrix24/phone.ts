/**
 * Phone matching as Bitrix24 does it for duplicates and call binding: the stored and the searched value
 * are compared as digit strings, formatting (spaces, dashes, brackets, leading +) ignored; an extension
 * part is ignored. https://apidocs.bitrix24.com/api-reference/crm/duplicates/crm-duplicate-find-by-comm.html
 */
export function phoneDigits(value: string): string {
  const withoutExtension = value.split(/(?:ext\.?|доб\.?|#|,|;)/i)[0] ?? '';
  return withoutExtension.replace(/\D/g, '');
}

export function samePhone(a: string, b: string): boolean {
  const da = phoneDigits(a);
  return da.length > 0 && da === phoneDigits(b);
}

/**
 * "Unsupported phone number format" is what register answers for a number it cannot parse
 * (https://apidocs.bitrix24.com/api-reference/telephony/telephony-external-call-register.html):
 * letters or no digits at all are refused; formatting characters are tolerated.
 */
export function isSupportedPhoneNumber(value: string): boolean {
  if (!/^[+\d\s()\-.]+$/.test(value.trim())) return false;
  const digits = phoneDigits(value);
  return digits.length >= 3 && digits.length <= 20;
}
