// Discord's payload limits, checked by the fake the way the real API refuses them (400, code 50035
// "Invalid Form Body" with the offending paths), so a renderer or adapter bug shows up in tests.

export type FormErrors = Record<string, string>;

const COMMAND_NAME = /^[-_\p{L}\p{N}]{1,32}$/u;
const OPTION_TYPES = new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkLength(errors: FormErrors, path: string, value: unknown, min: number, max: number): void {
  if (value === undefined || value === null) {
    if (min > 0) errors[path] = 'This field is required';
    return;
  }
  if (typeof value !== 'string') {
    errors[path] = 'Must be a string';
    return;
  }
  if (value.length < min || value.length > max) {
    errors[path] = `Must be between ${min} and ${max} in length.`;
  }
}

export function validateMessage(body: Record<string, unknown>, errors: FormErrors = {}): FormErrors {
  checkLength(errors, 'content', body.content, 0, 2000);
  if (body.nonce !== undefined && body.nonce !== null) {
    if (typeof body.nonce === 'string') checkLength(errors, 'nonce', body.nonce, 1, 25);
    else if (!Number.isInteger(body.nonce)) errors.nonce = 'Must be a string or an integer';
  }
  if (body.embeds !== undefined && body.embeds !== null) {
    if (!Array.isArray(body.embeds) || body.embeds.length > 10)
      errors.embeds = 'Must be 10 or fewer in length.';
    else {
      let total = 0;
      body.embeds.forEach((embed: unknown, i) => {
        if (!isRecord(embed)) {
          errors[`embeds[${i}]`] = 'Must be an object';
          return;
        }
        checkLength(errors, `embeds[${i}].title`, embed.title, 0, 256);
        checkLength(errors, `embeds[${i}].description`, embed.description, 0, 4096);
        total += String(embed.title ?? '').length + String(embed.description ?? '').length;
        if (embed.color !== undefined && (!Number.isInteger(embed.color) || Number(embed.color) > 0xffffff)) {
          errors[`embeds[${i}].color`] = 'Int value should be less than or equal to 16777215.';
        }
        const fields = embed.fields;
        if (fields !== undefined) {
          if (!Array.isArray(fields) || fields.length > 25)
            errors[`embeds[${i}].fields`] = 'Must be 25 or fewer';
          else
            fields.forEach((field: unknown, j) => {
              const f = isRecord(field) ? field : {};
              checkLength(errors, `embeds[${i}].fields[${j}].name`, f.name, 1, 256);
              checkLength(errors, `embeds[${i}].fields[${j}].value`, f.value, 1, 1024);
              total += String(f.name ?? '').length + String(f.value ?? '').length;
            });
        }
        if (isRecord(embed.footer)) {
          checkLength(errors, `embeds[${i}].footer.text`, embed.footer.text, 1, 2048);
          total += String(embed.footer.text ?? '').length;
        }
        if (embed.timestamp !== undefined && Number.isNaN(Date.parse(String(embed.timestamp)))) {
          errors[`embeds[${i}].timestamp`] = 'Could not parse timestamp.';
        }
      });
      if (total > 6000) errors.embeds = 'Embed size exceeds maximum size of 6000';
    }
  }
  if (body.components !== undefined && body.components !== null) {
    const ids = new Set<string>();
    if (!Array.isArray(body.components) || body.components.length > 5) {
      errors.components = 'Must be 5 or fewer in length.';
    } else {
      body.components.forEach((row: unknown, i) => {
        if (!isRecord(row) || row.type !== 1 || !Array.isArray(row.components)) {
          errors[`components[${i}]`] = 'Must be an action row';
          return;
        }
        if (row.components.length < 1 || row.components.length > 5) {
          errors[`components[${i}].components`] = 'Must be between 1 and 5 in length.';
        }
        row.components.forEach((button: unknown, j) => {
          const b = isRecord(button) ? button : {};
          const path = `components[${i}].components[${j}]`;
          if (b.type !== 2) {
            errors[`${path}.type`] = 'Only buttons are supported by the fake';
            return;
          }
          checkLength(errors, `${path}.label`, b.label, 0, 80);
          if (b.style === 5) return;
          checkLength(errors, `${path}.custom_id`, b.custom_id, 1, 100);
          if (typeof b.custom_id === 'string') {
            if (ids.has(b.custom_id))
              errors[`${path}.custom_id`] = 'Component custom id cannot be duplicated';
            ids.add(b.custom_id);
          }
        });
      });
    }
  }
  return errors;
}

export function validateCommands(body: unknown): FormErrors {
  const errors: FormErrors = {};
  if (!Array.isArray(body)) return { _: 'Must be an array' };
  if (body.length > 100) errors._ = 'Must be 100 or fewer in length.';
  const names = new Set<string>();
  body.forEach((command: unknown, i) => {
    const c = isRecord(command) ? command : {};
    const type = c.type ?? 1;
    if (
      typeof c.name !== 'string' ||
      !COMMAND_NAME.test(c.name) ||
      (type === 1 && c.name !== c.name.toLowerCase())
    ) {
      errors[`${i}.name`] = 'Command name is invalid';
    } else if (names.has(`${type}:${c.name}`)) {
      errors[`${i}.name`] = 'Application command names must be unique';
    } else names.add(`${type}:${c.name}`);
    if (type === 1) checkLength(errors, `${i}.description`, c.description, 1, 100);
    validateOptions(errors, `${i}.options`, c.options, 0);
    if (combinedLength(c) > 4000) errors[`${i}`] = 'Command exceeds maximum size (4000)';
  });
  return errors;
}

/**
 * What Discord counts against a command's 4000 characters: the name, description and choice
 * values of the command, its subcommands, options and choices (choice names too).
 */
function combinedLength(node: Record<string, unknown>): number {
  let total = 0;
  for (const key of ['name', 'description']) {
    const value = node[key];
    if (typeof value === 'string') total += [...value].length;
  }
  if (Array.isArray(node.choices)) {
    for (const choice of node.choices) {
      const c = isRecord(choice) ? choice : {};
      total += [...String(c.name ?? '')].length + [...String(c.value ?? '')].length;
    }
  }
  if (Array.isArray(node.options)) {
    for (const option of node.options) if (isRecord(option)) total += combinedLength(option);
  }
  return total;
}

function validateOptions(errors: FormErrors, path: string, options: unknown, depth: number): void {
  if (options === undefined) return;
  if (!Array.isArray(options) || options.length > 25) {
    errors[path] = 'Must be 25 or fewer in length.';
    return;
  }
  let optionalSeen = false;
  const names = new Set<string>();
  options.forEach((option: unknown, j) => {
    const o = isRecord(option) ? option : {};
    const here = `${path}[${j}]`;
    if (typeof o.name !== 'string' || !COMMAND_NAME.test(o.name) || o.name !== o.name.toLowerCase()) {
      errors[`${here}.name`] = 'Command name is invalid';
    } else if (names.has(o.name)) errors[`${here}.name`] = 'Option names must be unique';
    else names.add(o.name);
    checkLength(errors, `${here}.description`, o.description, 1, 100);
    if (!OPTION_TYPES.has(Number(o.type))) errors[`${here}.type`] = 'Value is not a valid option type';
    if (o.type === 1 || o.type === 2) {
      if (depth >= (o.type === 2 ? 1 : 2)) errors[`${here}.type`] = 'Sub-commands cannot be nested this deep';
      validateOptions(errors, `${here}.options`, o.options, depth + 1);
      return;
    }
    if (o.required === true && optionalSeen)
      errors[here] = 'Required options must be placed before non-required options';
    if (o.required !== true) optionalSeen = true;
    if (o.choices !== undefined && (!Array.isArray(o.choices) || o.choices.length > 25)) {
      errors[`${here}.choices`] = 'Must be 25 or fewer in length.';
    }
  });
}
