-- ospecc for Neovim: filetype detection for OSpec specs and Starlark topology files, the
-- `ospecc lsp` language server started for them (vim.lsp.start on Neovim 0.8+, start_client
-- and buf_attach_client on 0.7), and `:OspeccRun` to run the test under the cursor through the
-- server. Usage: require("ospecc").setup({}) — see editors/nvim/README.md.

local M = {}

local defaults = {
  -- Start the server; false: only filetype detection (when nvim-lspconfig starts it).
  lsp = true,
  -- The server command; `{ "ospecc", "lsp" }` finds ospecc on PATH.
  cmd = nil,
  -- Path of the ospecc binary (used when `cmd` is nil). nil: `ospecc` from PATH.
  path = nil,
  -- initializationOptions of `ospecc lsp` (lsp/src/config.rs): debounceMs, maxFileBytes.
  init_options = {},
  -- Files whose nearest directory becomes the workspace root.
  root_markers = { "ospecc.toml", ".git" },
  -- Filetypes given to specs and topology files.
  filetypes = { ospec = "ospec", topology = "starlark" },
  -- Called as on_attach(client, bufnr) when the server attaches to a buffer.
  on_attach = nil,
  -- Extra client capabilities (e.g. from nvim-cmp), merged over Neovim's defaults.
  capabilities = nil,
}

M.config = nil
-- Neovim 0.7: one client per root directory, reused across buffers.
local clients_by_root = {}
local warned_missing = false

local OSPEC_NAMES = { ["outcome.yml"] = true, ["outcome.yaml"] = true }
local OSPEC_SUFFIXES = { ".ospec.yml", ".ospec.yaml", ".ospec" }

local function ends_with(s, suffix)
  return #s >= #suffix and s:sub(-#suffix) == suffix
end

--- The language of a file name, as `ospecc check` decides it: "ospec", "topology" or nil.
function M.language_of(name)
  local base = vim.fn.fnamemodify(name, ":t")
  if OSPEC_NAMES[base] then
    return "ospec"
  end
  for _, suffix in ipairs(OSPEC_SUFFIXES) do
    if ends_with(base, suffix) and #base > #suffix then
      return "ospec"
    end
  end
  if ends_with(base, ".star") and #base > #".star" then
    return "topology"
  end
  return nil
end

--- The workspace root of a file: the nearest directory holding a root marker, else its own.
function M.root_dir(file)
  local dir = vim.fn.fnamemodify(file, ":p:h")
  for _, marker in ipairs(M.config.root_markers) do
    local found = vim.fn.findfile(marker, dir .. ";")
    if found == "" then
      found = vim.fn.finddir(marker, dir .. ";")
    end
    if found ~= "" then
      return vim.fn.fnamemodify(found, ":p:h"):gsub("/%.git/?$", "")
    end
  end
  return dir
end

local function server_cmd()
  if M.config.cmd then
    return M.config.cmd
  end
  return { M.config.path or "ospecc", "lsp" }
end

local function client_config(root)
  local capabilities = vim.lsp.protocol.make_client_capabilities()
  if M.config.capabilities then
    capabilities = vim.tbl_deep_extend("force", capabilities, M.config.capabilities)
  end
  return {
    name = "ospecc",
    cmd = server_cmd(),
    root_dir = root,
    workspace_folders = { { uri = vim.uri_from_fname(root), name = root } },
    init_options = M.config.init_options,
    capabilities = capabilities,
    on_attach = M.config.on_attach,
  }
end

--- Starts (or reuses) the server for `bufnr` and attaches it.
function M.attach(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local file = vim.api.nvim_buf_get_name(bufnr)
  if file == "" then
    return nil
  end
  local cmd = server_cmd()
  if vim.fn.executable(cmd[1]) ~= 1 then
    if not warned_missing then
      warned_missing = true
      vim.notify(
        ("ospecc: `%s` is not executable; install it (cargo install --path .) or pass `path` to setup()"):format(cmd[1]),
        vim.log.levels.ERROR
      )
    end
    return nil
  end
  local root = M.root_dir(file)
  local config = client_config(root)
  if vim.lsp.start then
    return vim.lsp.start(config, {
      bufnr = bufnr,
      reuse_client = function(client, conf)
        return client.name == conf.name and client.config.root_dir == conf.root_dir
      end,
    })
  end
  local id = clients_by_root[root]
  if id == nil or vim.lsp.get_client_by_id(id) == nil or vim.lsp.client_is_stopped(id) then
    id = vim.lsp.start_client(config)
    clients_by_root[root] = id
  end
  if id then
    vim.lsp.buf_attach_client(bufnr, id)
  end
  return id
end

--- Stops every ospecc client and attaches the loaded OSpec buffers again.
function M.restart()
  for _, client in ipairs(vim.lsp.get_active_clients()) do
    if client.name == "ospecc" then
      client.stop()
    end
  end
  clients_by_root = {}
  vim.defer_fn(function()
    for _, buf in ipairs(vim.api.nvim_list_bufs()) do
      if vim.api.nvim_buf_is_loaded(buf) and M.language_of(vim.api.nvim_buf_get_name(buf)) then
        M.attach(buf)
      end
    end
  end, 500)
end

local function has_syntax(name)
  return #vim.api.nvim_get_runtime_file("syntax/" .. name .. ".vim", false) > 0
end

local function set_filetypes()
  local ft = M.config.filetypes
  if vim.filetype and vim.filetype.add and vim.fn.has("nvim-0.8") == 1 then
    vim.filetype.add({
      extension = { star = ft.topology, ospec = ft.ospec },
      filename = { ["outcome.yml"] = ft.ospec, ["outcome.yaml"] = ft.ospec },
      pattern = { [".*%.ospec%.ya?ml"] = ft.ospec },
    })
    return
  end
  -- Neovim 0.7: filetype.lua is opt-in there, so detect with autocommands.
  local group = vim.api.nvim_create_augroup("ospecc_filetype", { clear = true })
  vim.api.nvim_create_autocmd({ "BufNewFile", "BufRead" }, {
    group = group,
    pattern = { "*.ospec.yml", "*.ospec.yaml", "*.ospec", "outcome.yml", "outcome.yaml", "*.star" },
    callback = function(args)
      local language = M.language_of(args.file)
      if language then
        vim.bo[args.buf].filetype = ft[language]
      end
    end,
  })
end

--- The ospecc client attached to `bufnr`, if any.
local function ospecc_client(bufnr)
  local clients = vim.lsp.get_clients and vim.lsp.get_clients({ bufnr = bufnr, name = "ospecc" })
    or vim.lsp.buf_get_clients(bufnr)
  for _, client in pairs(clients) do
    if client.name == "ospecc" then
      return client
    end
  end
  return nil
end

--- The tests a topology buffer declares (the server's `ospecc.listTests`): a list of
--- { name, kind, line (1-based), column, label }, empty without a server or on errors.
function M.tests(bufnr, timeout)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local client = ospecc_client(bufnr)
  if client == nil then
    return {}
  end
  local params = { command = "ospecc.listTests", arguments = { { uri = vim.uri_from_bufnr(bufnr) } } }
  local response = client.request_sync("workspace/executeCommand", params, timeout or 10000, bufnr)
  return (response and response.result and response.result.tests) or {}
end

--- The names of the tests declared at the nearest test line at or above `line` (1-based): one
--- test, or every cell of a fault_matrix.
function M.tests_at(tests, line)
  local best = nil
  for _, test in ipairs(tests) do
    if test.line <= line and (best == nil or test.line > best) then
      best = test.line
    end
  end
  local names = {}
  for _, test in ipairs(tests) do
    if test.line == best then
      table.insert(names, test.name)
    end
  end
  return names
end

-- The answer of the last run (lsp/src/runs.rs: results, summary, passed, trace_dir).
M.last_result = nil

--- Runs tests of the buffer through the server (`ospecc.runTest`, which runs `ospecc run
--- --test`). opts: names (default: the test under the cursor), trace, bufnr, on_done(result, err).
--- Failures come back as diagnostics on the failing assertion's line; the server shows the
--- summary.
function M.run(opts)
  opts = opts or {}
  local bufnr = (opts.bufnr == nil or opts.bufnr == 0) and vim.api.nvim_get_current_buf() or opts.bufnr
  local client = ospecc_client(bufnr)
  if client == nil then
    vim.notify("ospecc: the language server is not attached to this buffer", vim.log.levels.ERROR)
    return false
  end
  local names = opts.names
  if names == nil or #names == 0 then
    names = M.tests_at(M.tests(bufnr), vim.api.nvim_win_get_cursor(0)[1])
  end
  if #names == 0 then
    vim.notify("ospecc: no test is declared at or above the cursor", vim.log.levels.WARN)
    return false
  end
  vim.notify("ospecc: running " .. table.concat(names, ", "), vim.log.levels.INFO)
  local arguments = { { uri = vim.uri_from_bufnr(bufnr), tests = names, trace = opts.trace == true } }
  client.request("workspace/executeCommand", { command = "ospecc.runTest", arguments = arguments }, function(err, result)
    if err then
      vim.notify("ospecc: " .. tostring(err.message), vim.log.levels.ERROR)
    else
      M.last_result = result
    end
    if opts.on_done then
      opts.on_done(result, err)
    end
  end, bufnr)
  return true
end

local function define_run_command()
  vim.api.nvim_create_user_command("OspeccRun", function(command)
    M.run({ names = command.fargs, trace = command.bang })
  end, {
    nargs = "*",
    bang = true,
    desc = "Run the ospecc test under the cursor (or the named tests); ! keeps the traces",
    complete = function(lead)
      local names = {}
      for _, test in ipairs(M.tests(0, 3000)) do
        if test.name:sub(1, #lead) == lead then
          table.insert(names, test.name)
        end
      end
      return names
    end,
  })
end

--- Sets up detection, buffer options and the server. Options: see `defaults` above.
function M.setup(opts)
  M.config = vim.tbl_deep_extend("force", vim.deepcopy(defaults), opts or {})
  set_filetypes()
  local ft = M.config.filetypes
  local group = vim.api.nvim_create_augroup("ospecc", { clear = true })
  vim.api.nvim_create_autocmd("FileType", {
    group = group,
    pattern = { ft.ospec, ft.topology },
    callback = function(args)
      local language = M.language_of(vim.api.nvim_buf_get_name(args.buf))
      if language == nil then
        return -- a starlark file that is not a topology file (e.g. Bazel's *.bzl)
      end
      vim.bo[args.buf].commentstring = "# %s"
      if language == "ospec" and vim.bo[args.buf].syntax ~= "yaml" then
        vim.bo[args.buf].syntax = "yaml"
        vim.bo[args.buf].expandtab = true
        vim.bo[args.buf].shiftwidth = 2
      elseif language == "topology" and not has_syntax(ft.topology) then
        vim.bo[args.buf].syntax = has_syntax("bzl") and "bzl" or "python"
      end
      if M.config.lsp then
        M.attach(args.buf)
      end
    end,
  })
  vim.api.nvim_create_user_command("OspeccRestart", M.restart, { desc = "Restart the ospecc language server" })
  define_run_command()
  return M
end

return M
