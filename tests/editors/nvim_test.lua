-- Run by tests/editors.rs: `nvim --headless -u NONE -i NONE -c "luafile tests/editors/nvim_test.lua"`
-- with OSPECC_NVIM_RTP (editors/nvim), OSPECC_BIN, OSPECC_FIXTURE (a spec to open),
-- OSPECC_TOPOLOGY_FIXTURE, OSPECC_NAV_SPEC and OSPECC_NAV_TOPOLOGY (a spec and the topology it
-- names, for references and rename) and OSPECC_NVIM_OUT (where the JSON result goes). Every
-- wait is bounded; the script always writes its result and quits, even when something in it
-- fails.

local out = os.getenv("OSPECC_NVIM_OUT")
local result = { nvim = tostring(vim.version().major) .. "." .. tostring(vim.version().minor) }

local function write_result()
  local file = io.open(out, "w")
  if file then
    file:write(vim.fn.json_encode(result))
    file:close()
  end
end

-- One LSP request whose raw result is kept: { sent, timed_out | error | result }.
local function call(client, bufnr, method, params, timeout)
  local done, response, err = false, nil, nil
  local ok = client.request(method, params, function(e, r)
    err, response, done = e, r, true
  end, bufnr)
  if not ok then
    return { sent = false }
  end
  if not vim.wait(timeout, function()
    return done
  end, 50) then
    return { sent = true, timed_out = true }
  end
  if err then
    return { sent = true, error = { code = err.code, message = err.message } }
  end
  return { sent = true, result = response }
end

-- One LSP request straight to the client (whether or not the server announces the method),
-- waited for at most `timeout` ms: { sent, timed_out | error | items | result_null | result },
-- where items are the labels of a completion list.
local function request(client, bufnr, method, params, timeout)
  local entry = call(client, bufnr, method, params, timeout)
  local response = entry.result
  if not entry.sent or entry.timed_out or entry.error then
    return entry
  elseif type(response) == "table" and response.items then
    entry.items = vim.tbl_map(function(i)
      return i.label
    end, response.items)
  elseif type(response) == "table" and vim.tbl_islist(response) then
    entry.items = vim.tbl_map(function(i)
      return i.label
    end, response)
  elseif response == nil then
    entry.result_null = true
  else
    return entry
  end
  entry.result = nil
  return entry
end

-- The position (0-based line, UTF-16 character; the fixtures are ASCII) of the first
-- occurrence of `needle` in the buffer, `inside` bytes into it.
local function position_of(bufnr, needle, inside)
  for i, line in ipairs(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)) do
    local at = line:find(needle, 1, true)
    if at then
      return { line = i - 1, character = at - 1 + inside }
    end
  end
  return { line = 0, character = 0 }
end

-- How many locations each file got, by file name.
local function per_file(locations)
  local counts = {}
  for _, location in ipairs(locations or {}) do
    local name = vim.fn.fnamemodify(vim.uri_to_fname(location.uri), ":t")
    counts[name] = (counts[name] or 0) + 1
  end
  return counts
end

-- References and rename across files: a name `nav.star` loads from `nav_lib.star`, and the
-- service `api` of `nav.ospec.yml` and its `service("api", ...)` in `nav.star`. The rename is
-- applied as Neovim applies one, and the buffers' texts are recorded.
local function navigate(client)
  vim.cmd("edit " .. vim.fn.fnameescape(os.getenv("OSPECC_NAV_TOPOLOGY")))
  local topology = vim.api.nvim_get_current_buf()
  local topology_uri = vim.uri_from_bufnr(topology)
  local at = function(bufnr, uri, needle, inside)
    return { textDocument = { uri = uri }, position = position_of(bufnr, needle, inside), context = { includeDeclaration = true } }
  end
  local loaded = call(client, topology, "textDocument/references", at(topology, topology_uri, "health_path()", 1), 30000)
  loaded.files = per_file(loaded.result)
  loaded.result = nil
  result.loaded_references = loaded

  vim.cmd("edit " .. vim.fn.fnameescape(os.getenv("OSPECC_NAV_SPEC")))
  local spec = vim.api.nvim_get_current_buf()
  local spec_uri = vim.uri_from_bufnr(spec)
  local service = call(client, spec, "textDocument/references", at(spec, spec_uri, "api:", 1), 30000)
  service.files = per_file(service.result)
  service.result = nil
  result.service_references = service

  local params = at(topology, topology_uri, '"api"', 2)
  params.context = nil
  result.prepare_rename = call(client, topology, "textDocument/prepareRename", params, 30000)
  params.newName = "gateway"
  local rename = call(client, topology, "textDocument/rename", params, 30000)
  if rename.result and rename.result.changes then
    local edits = {}
    for uri, list in pairs(rename.result.changes) do
      edits[vim.fn.fnamemodify(vim.uri_to_fname(uri), ":t")] = #list
    end
    rename.files = edits
    vim.lsp.util.apply_workspace_edit(rename.result, client.offset_encoding or "utf-16")
    rename.spec_text = table.concat(vim.api.nvim_buf_get_lines(spec, 0, -1, false), "\n")
    rename.topology_text = table.concat(vim.api.nvim_buf_get_lines(topology, 0, -1, false), "\n")
  end
  rename.result = nil
  result.rename = rename
  params.newName = "not a name"
  result.refused_rename = call(client, topology, "textDocument/rename", params, 30000)
end

local function run()
  vim.opt.runtimepath:prepend(os.getenv("OSPECC_NVIM_RTP"))
  vim.cmd("filetype plugin on")
  vim.cmd("syntax on")
  require("ospecc").setup({ path = os.getenv("OSPECC_BIN"), init_options = { debounceMs = 0 } })
  vim.cmd("edit " .. vim.fn.fnameescape(os.getenv("OSPECC_FIXTURE")))
  local bufnr = vim.api.nvim_get_current_buf()
  result.filetype = vim.bo[bufnr].filetype
  result.syntax = vim.bo[bufnr].syntax

  local client
  result.attached = vim.wait(30000, function()
    for _, c in pairs(vim.lsp.buf_get_clients(bufnr)) do
      if c.name == "ospecc" and c.initialized ~= false then
        client = c
        return true
      end
    end
    return false
  end, 50)
  if not client then
    return
  end
  result.server_name = client.server_capabilities and client.name
  result.diagnostics_arrived = vim.wait(60000, function()
    return #vim.diagnostic.get(bufnr) > 0
  end, 100)
  result.diagnostics = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    local lsp = d.user_data and d.user_data.lsp or {}
    table.insert(result.diagnostics, {
      code = d.code or lsp.code,
      severity = d.severity,
      lnum = d.lnum,
      message = d.message,
      source = d.source,
    })
  end
  local params = { textDocument = { uri = vim.uri_from_bufnr(bufnr) }, position = { line = 5, character = 0 } }
  result.completion = request(client, bufnr, "textDocument/completion", params, 30000)
  result.hover = request(client, bufnr, "textDocument/hover", params, 30000)

  -- A topology file gets its filetype (and the server) too.
  vim.cmd("edit " .. vim.fn.fnameescape(os.getenv("OSPECC_TOPOLOGY_FIXTURE")))
  result.topology_filetype = vim.bo.filetype
  result.topology_attached = vim.wait(30000, function()
    return #vim.lsp.buf_get_clients(0) > 0
  end, 50)

  navigate(client)

  client.stop()
  result.stopped = vim.wait(10000, function()
    return client.is_stopped()
  end, 50)
end

local ok, err = pcall(run)
if not ok then
  result.error = tostring(err)
end
write_result()
vim.cmd("qa!")
