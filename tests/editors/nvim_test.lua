-- Run by tests/editors.rs: `nvim --headless -u NONE -i NONE -c "luafile tests/editors/nvim_test.lua"`
-- with OSPECC_NVIM_RTP (editors/nvim), OSPECC_BIN, OSPECC_FIXTURE (a spec to open) and
-- OSPECC_NVIM_OUT (where the JSON result goes). Every wait is bounded; the script always
-- writes its result and quits, even when something in it fails.

local out = os.getenv("OSPECC_NVIM_OUT")
local result = { nvim = tostring(vim.version().major) .. "." .. tostring(vim.version().minor) }

local function write_result()
  local file = io.open(out, "w")
  if file then
    file:write(vim.fn.json_encode(result))
    file:close()
  end
end

-- One LSP request straight to the client (whether or not the server announces the method),
-- waited for at most `timeout` ms: { supported, result | error }.
local function request(client, bufnr, method, params, timeout)
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
  local entry = { sent = true }
  if err then
    entry.error = { code = err.code, message = err.message }
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
    entry.result = response
  end
  return entry
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
