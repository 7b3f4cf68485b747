/* model_arg.c — `--model NAME|FILE` for commands that need no workspace
 * (classify, eval): a safetensors file is used as it is, a name is looked
 * up in the workspace, and the weights are loaded. */
#include "cli/cli.h"

#include <stdio.h>
#include <sys/stat.h>

#include "common/sha256.h"
#include "filter/resnet.h"

int cli_model_open(struct cli *c, const char *model, store **st, int64_t *run_id, struct resnet **m, char id[65])
{
	char err[1024];
	struct stat sb;
	buf path, text;
	int status = EXIT_FAIL;
	buf_init(&path, 8192);
	buf_init(&text, 1 << 16);
	*st = NULL;
	*run_id = 0;
	*m = NULL;
	if (stat(model, &sb) == 0 && S_ISREG(sb.st_mode)) {
		if (store_open_memory(st, err, sizeof err) != 0) {
			cli_error("%s", err);
			goto out;
		}
		buf_puts(&path, model);
		if (id && sha256_file(model, id, NULL, err, sizeof err) != 0) {
			cli_error("%s", err);
			goto out;
		}
	} else {
		store_model rec;
		if (store_open(c->workspace, st, err, sizeof err) != 0) {
			cli_error("no model file '%s', and %s", model, err);
			goto out;
		}
		if (store_run_begin(*st, c->command, c->args, run_id) != 0) {
			cli_error("%s", store_errmsg(*st));
			goto out;
		}
		if (store_model_get(*st, model, &rec, &text) != 0 || store_model_path(*st, rec.id, &path) != 0) {
			cli_error("%s", store_errmsg(*st));
			goto out;
		}
		if (id)
			snprintf(id, 65, "%s", rec.id);
	}
	if (resnet_load_file(m, buf_cstr(&path), err, sizeof err) != 0) {
		cli_error("cannot load model '%s': %s", model, err);
		goto out;
	}
	status = EXIT_OK;
out:
	buf_release(&text);
	buf_release(&path);
	return status;
}
